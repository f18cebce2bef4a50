/**
 * Puts process.env back as it was, key by key, on the same object: a test that swaps in a copy
 * (`process.env = saved`) leaves every module that kept a reference to the old object reading stale values.
 */
export function saveEnv(): () => void {
  const saved = { ...process.env };
  return () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    for (const [key, value] of Object.entries(saved))
      if (process.env[key] !== value) process.env[key] = value;
  };
}
