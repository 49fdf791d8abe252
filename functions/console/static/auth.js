// Sign-in. On AWS: Microsoft's MSAL for the browser (authorization code flow with PKCE) at the issuer the
// API's JWT authorizer trusts; tokens stay in this tab's session storage. On `invsync local up`: the local
// stack's development token from config.json (the local API verifies it like any other).

const DEV_TOKEN_KEY = "invsync.devToken"; // development only: another local user's token, for trying roles

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`${src} did not load`));
    document.head.append(script);
  });
}

function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

async function development(auth) {
  const token = sessionStorage.getItem(DEV_TOKEN_KEY) || auth.token;
  const claims = claimsOf(token);
  return {
    mode: "development",
    name: claims.name || auth.user || claims.sub || "local user",
    signedIn: true,
    getToken: async () => token,
    signOut: null,
  };
}

async function withMsal(auth) {
  await loadScript("vendor/msal-browser.min.js");
  const msal = window.msal;
  const redirectUri = location.origin + location.pathname;
  const app = await msal.createStandardPublicClientApplication({ // constructed and initialised
    auth: { clientId: auth.clientId, authority: auth.authority, redirectUri, postLogoutRedirectUri: redirectUri },
    cache: { cacheLocation: "sessionStorage" },
  });
  const result = await app.handleRedirectPromise();
  const account = result?.account || app.getActiveAccount() || app.getAllAccounts()[0] || null;
  if (account) app.setActiveAccount(account);
  const request = { scopes: auth.scopes };
  return {
    mode: "msal",
    name: account ? account.name || account.username : "",
    signedIn: Boolean(account),
    signIn: () => app.loginRedirect(request),
    signOut: () => app.logoutRedirect({ account: app.getActiveAccount() }),
    getToken: async () => {
      const active = app.getActiveAccount();
      if (!active) return null;
      try {
        return (await app.acquireTokenSilent({ ...request, account: active })).accessToken;
      } catch (err) {
        if (err instanceof msal.InteractionRequiredAuthError) {
          await app.acquireTokenRedirect(request);
          return null;
        }
        throw err;
      }
    },
  };
}

export async function signIn() {
  const response = await fetch("config.json", { cache: "no-store", credentials: "omit" });
  const config = await response.json();
  const auth = config.auth || {};
  if (auth.mode === "development") return development(auth);
  if (auth.mode === "msal") return withMsal(auth);
  return { mode: "unconfigured", signedIn: false, message: auth.message || "Sign-in is not configured.",
           getToken: async () => null };
}
