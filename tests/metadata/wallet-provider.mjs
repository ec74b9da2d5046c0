// An EIP-1193 provider backed by a real ethers v6 Wallet, for tests: what an injected wallet
// (MetaMask and co.) answers to the methods our package uses. `decide(method, params)` plays the
// user: return false to reject (EIP-1193 error 4001). Every request is recorded in `calls`, so
// tests can check what the "wallet" was shown. In a page it is bridged with
// `page.exposeFunction` (see tests/www/demo.test.mjs).
import { Wallet, getBytes, toUtf8String } from "ethers";

/** An EIP-1193 error ({code, message}) as wallets throw them. */
export class ProviderRpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * `{request, calls, wallet}` for `wallet` (an ethers Wallet; random when omitted).
 * `signAs` signs with another wallet while reporting `wallet`'s account (a broken or hostile wallet).
 */
export function ethersProvider({ wallet = Wallet.createRandom(), decide = () => true, signAs } = {}) {
  const calls = [];
  const signer = signAs ?? wallet;
  async function request({ method, params = [] } = {}) {
    calls.push({ method, params });
    if (!decide(method, params)) throw new ProviderRpcError(4001, "User rejected the request.");
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [wallet.address];
      case "eth_chainId":
        return "0x13881";
      case "eth_signTypedData_v4": {
        const [from, json] = params;
        if (String(from).toLowerCase() !== wallet.address.toLowerCase()) throw new ProviderRpcError(4100, `unknown account ${from}`);
        const typed = typeof json === "string" ? JSON.parse(json) : json;
        const { EIP712Domain: _domainType, ...types } = typed.types;
        return signer.signTypedData(typed.domain, types, typed.message);
      }
      case "personal_sign": {
        const [hex, from] = params;
        if (String(from).toLowerCase() !== wallet.address.toLowerCase()) throw new ProviderRpcError(4100, `unknown account ${from}`);
        return signer.signMessage(toUtf8String(getBytes(hex)));
      }
      default:
        throw new ProviderRpcError(4200, `unsupported method ${method}`);
    }
  }
  return { request, calls, wallet };
}
