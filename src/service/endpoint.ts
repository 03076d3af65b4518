const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The SDK refuses `http://` unless told otherwise. We allow it for loopback only, which is where the local
 * emulator lives; an http endpoint anywhere else would send keys and tokens in clear text.
 */
export function allowsInsecureConnection(endpoint: URL): boolean {
  return endpoint.protocol === 'http:' && LOOPBACK_HOSTS.has(endpoint.hostname.toLowerCase());
}
