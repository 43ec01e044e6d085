import { DEFAULT_SUITE, exportPublicKey, generateKeyPair, type HpkeKeyPair, publicKeyId } from '@vmi/secure-input-server';

/**
 * The gateway's static HPKE key pair. Records are sealed in HPKE Auth mode with it, so a server that
 * pins its public key knows a record came from this gateway. It lives in memory only: a restarted
 * gateway has a new key, and servers pin the new one (`identity` on the control API).
 */
export interface GatewayIdentity {
  readonly keyPair: HpkeKeyPair;
  readonly publicKey: string;
  readonly keyId: string;
  readonly kem: string;
}

export async function createGatewayIdentity(): Promise<GatewayIdentity> {
  const keyPair = await generateKeyPair();
  const publicKey = await exportPublicKey(keyPair.publicKey);
  return { keyPair, publicKey, keyId: publicKeyId(publicKey), kem: DEFAULT_SUITE.kem };
}
