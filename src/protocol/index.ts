/** The pure codec: bytes in, values out. Imports no sockets, timers or logger. */
export * from './constants.js';
export * from './errors.js';
export * from './uid.js';
export * from './payload.js';
export * from './acl-codec.js';
export * from './initiation.js';
export * from './auth.js';
export * from './datagram.js';
export * from './transmission.js';
export * from './transmission-parser.js';
export * from './json-payload.js';
