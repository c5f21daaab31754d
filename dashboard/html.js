// htm bound to Preact's h: templates build elements, and every interpolated value is text or an attribute,
// never parsed as HTML (step outputs are untrusted model text).
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
