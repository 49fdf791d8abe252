// The HTTP API on this page's own origin; errors arrive as problem documents (RFC 9457).

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class Api {
  constructor(getToken, base = "") {
    this.getToken = getToken;
    this.base = base;
  }

  async call(method, path, body) {
    const headers = { Accept: "application/json" };
    const token = await this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(this.base + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", cache: "no-store",
      });
    } catch (err) {
      throw new ApiError(0, { title: "The API cannot be reached", detail: String(err.message || err) });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!response.ok) {
      const problem = data && typeof data === "object" ? data : {};
      if (!problem.title) problem.title = response.status === 401 ? "Not signed in" : `HTTP ${response.status}`;
      if (!problem.detail && response.status === 401) problem.detail = "Your sign-in has expired or was refused.";
      throw new ApiError(response.status, problem);
    }
    return data;
  }

  // One page of an export: its text and the next page's cursor (X-Next-Cursor), or the problem as an ApiError
  async exportPage(path) {
    const headers = { Accept: "text/csv, application/json" };
    const token = await this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(this.base + path, { headers, credentials: "omit", cache: "no-store" });
    const text = await response.text();
    if (!response.ok) {
      let problem = {};
      try { problem = JSON.parse(text); } catch { problem = {}; }
      if (!problem.title) problem.title = `HTTP ${response.status}`;
      throw new ApiError(response.status, problem);
    }
    return { text, next: response.headers.get("X-Next-Cursor") };
  }

  get(path) { return this.call("GET", path); }
  post(path, body) { return this.call("POST", path, body); }
}
