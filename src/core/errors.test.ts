import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkFailure } from './errors.ts';

/** How Node's clients report it: a generic error whose cause (or its cause) carries the system code. */
const failed = (code: string) => new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) });

describe('network failures', () => {
  it('name the code along the cause chain, else the message', () => {
    assert.equal(networkFailure(failed('ECONNRESET')).reason, 'ECONNRESET');
    assert.equal(networkFailure(new Error('socket hang up')).reason, 'socket hang up');
  });

  it('are worth retrying unless the host does not exist or its certificate is refused', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET']) assert.equal(networkFailure(failed(code)).retryable, true, code);
    const host = networkFailure(failed('ENOTFOUND'));
    assert.deepEqual([host.retryable, host.hint], [false, 'no such host: check the host name in the URL']);
    for (const code of ['CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID']) {
      const tls = networkFailure(failed(code));
      assert.equal(tls.retryable, false, code);
      assert.match(tls.hint!, /NODE_EXTRA_CA_CERTS/);
    }
  });
});
