// The JSON_ARGS command-line argument of the test clients: a JSON object, or nothing ({}).

/** Parses `json` (undefined gives {}); throws with a clear message unless it is a JSON object. */
export function parseJsonArgs(json) {
  if (json === undefined) return {};
  let args;
  try {
    args = JSON.parse(json);
  } catch (e) {
    throw new Error(`JSON_ARGS is not JSON: ${e.message}`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) {
    throw new Error('JSON_ARGS must be a JSON object');
  }
  return args;
}
