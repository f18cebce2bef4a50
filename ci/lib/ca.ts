/** Extra CA bundles: what Node does not already trust, so a bundle fits where size is bounded. */
import { X509Certificate } from "node:crypto";
import { rootCertificates } from "node:tls";

const PEM = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, each as its PEM text. */
export const certificatesIn = (pem: string): string[] => pem.match(PEM) ?? [];

/**
 * The certificates of `pem` that are not among Node's own root CAs. NODE_EXTRA_CA_CERTS adds to those roots,
 * so for Node this is the same trust: a system bundle (about 220 KB on Debian) shrinks to the proxy's CA.
 */
export function extraCertificates(
  pem: string,
  roots: readonly string[] = rootCertificates,
): string {
  const fingerprint = (cert: string) => {
    try {
      return new X509Certificate(cert).fingerprint256;
    } catch {
      return cert.replace(/\s+/g, "");
    }
  };
  const known = new Set(roots.map(fingerprint));
  const extra = certificatesIn(pem).filter((c) => !known.has(fingerprint(c)));
  return extra.length ? `${extra.join("\n")}\n` : "";
}
