// Module resolve hook: "uvu" imported from anywhere but uvu itself and the wrapper resolves to the wrapper.
const WRAPPER = new URL("./uvu.ts", import.meta.url);

export async function resolve(specifier, context, next) {
  if (specifier === "uvu" && context.parentURL) {
    const parent = new URL(context.parentURL);
    const fromUvu = parent.pathname.includes("/node_modules/uvu/");
    if (!fromUvu && parent.pathname !== WRAPPER.pathname) return next(WRAPPER.href, context); // through tsx, which loads .ts
  }
  return next(specifier, context);
}
