// msgpackr requires this inside a try/catch and uses its pure-JavaScript decoder when it throws.
throw new Error('msgpackr-extract is not installed: Conductor uses no native addons');
