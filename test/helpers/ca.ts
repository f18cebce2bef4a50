/**
 * The CA bundle that builds and steps started by tests must trust: the extra bundle this process was given
 * (NODE_EXTRA_CA_CERTS; inside a pipeline cell, the host's bundle mounted as a secret file), else the
 * system's. Behind a TLS-intercepting proxy only the former has the proxy's CA.
 */
export const CA_BUNDLE = process.env.NODE_EXTRA_CA_CERTS || "/etc/ssl/certs/ca-certificates.crt";
