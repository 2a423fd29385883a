// Certificates and keys for a test control plane, made with the openssl command-line tool.
//
// One throw-away CA signs the apiserver's serving certificate, the admin client certificate and the
// front-proxy client certificate. All keys are ECDSA P-256, which generates in milliseconds and which
// kube-apiserver accepts for serving, client authentication and ServiceAccount token signing (ES256).

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Certificates stay valid for two days, far longer than a test run. */
const VALIDITY_DAYS = "2";

/** Common name and group of the admin client certificate. The group bypasses RBAC. */
export const ADMIN_USER = "cpa-test-admin";
export const ADMIN_GROUP = "system:masters";

/** Common name of the client certificate that the aggregator presents to extension apiservers. */
export const FRONT_PROXY_USER = "front-proxy-client";

/** Paths of the files written by {@link createPki}, plus the PEM text that clients need. */
export interface ControlPlanePki {
  readonly dir: string;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly servingCertPath: string;
  readonly servingKeyPath: string;
  readonly adminCertPath: string;
  readonly adminKeyPath: string;
  readonly frontProxyCertPath: string;
  readonly frontProxyKeyPath: string;
  readonly serviceAccountKeyPath: string;
  readonly serviceAccountPublicKeyPath: string;
  readonly caPem: string;
  readonly adminCertPem: string;
  readonly adminKeyPem: string;
}

// Extension sections referenced with -extensions below.
const OPENSSL_CONFIG = `[req]
distinguished_name = req_distinguished_name

[req_distinguished_name]

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash

[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`openssl ${args[0]} failed: ${String(stderr ?? error).trim()}`, { cause: error });
  }
}

async function generateKey(path: string): Promise<void> {
  await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path]);
}

/** Signs a new certificate for `keyPath` with the CA, using one extension section of the config. */
async function issueCertificate(
  dir: string,
  configPath: string,
  name: string,
  subject: string,
  extensions: "serving" | "client",
): Promise<{ certPath: string; keyPath: string }> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.crt`);
  await generateKey(keyPath);
  await openssl(["req", "-new", "-key", keyPath, "-subj", subject, "-config", configPath, "-out", csrPath]);
  await openssl([
    "x509", "-req", "-in", csrPath,
    "-CA", join(dir, "ca.crt"), "-CAkey", join(dir, "ca.key"),
    // A random serial keeps serial numbers unique without a serial file.
    "-set_serial", `0x${randomBytes(16).toString("hex")}`,
    "-days", VALIDITY_DAYS, "-sha256",
    "-extfile", configPath, "-extensions", extensions,
    "-out", certPath,
  ]);
  return { certPath, keyPath };
}

/** Writes a CA, the serving, admin and front-proxy certificates and the ServiceAccount key pair to `dir`. */
export async function createPki(dir: string): Promise<ControlPlanePki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const configPath = join(dir, "openssl.cnf");
  writeFileSync(configPath, OPENSSL_CONFIG);

  const caKeyPath = join(dir, "ca.key");
  const caCertPath = join(dir, "ca.crt");
  await generateKey(caKeyPath);
  await openssl([
    "req", "-x509", "-new", "-key", caKeyPath, "-subj", "/CN=cpa-test-ca",
    "-days", VALIDITY_DAYS, "-sha256", "-config", configPath, "-extensions", "ca", "-out", caCertPath,
  ]);

  const serviceAccountKeyPath = join(dir, "service-account.key");
  const serviceAccountPublicKeyPath = join(dir, "service-account.pub");
  const [serving, admin, frontProxy] = await Promise.all([
    issueCertificate(dir, configPath, "apiserver", "/CN=kube-apiserver", "serving"),
    issueCertificate(dir, configPath, "admin", `/O=${ADMIN_GROUP}/CN=${ADMIN_USER}`, "client"),
    issueCertificate(dir, configPath, "front-proxy-client", `/CN=${FRONT_PROXY_USER}`, "client"),
    generateKey(serviceAccountKeyPath),
  ]);
  await openssl(["pkey", "-in", serviceAccountKeyPath, "-pubout", "-out", serviceAccountPublicKeyPath]);

  return {
    dir,
    caCertPath,
    caKeyPath,
    servingCertPath: serving.certPath,
    servingKeyPath: serving.keyPath,
    adminCertPath: admin.certPath,
    adminKeyPath: admin.keyPath,
    frontProxyCertPath: frontProxy.certPath,
    frontProxyKeyPath: frontProxy.keyPath,
    serviceAccountKeyPath,
    serviceAccountPublicKeyPath,
    caPem: readFileSync(caCertPath, "utf8"),
    adminCertPem: readFileSync(admin.certPath, "utf8"),
    adminKeyPem: readFileSync(admin.keyPath, "utf8"),
  };
}
