/**
 * GitHub Actions workflow commands: `::group::`, `::endgroup::` and `::error`. The runner reads a command only
 * at the start of a line, so output lines, which always carry their "[stage cell]" prefix, never act as one.
 * Escaping as in @actions/core: data escapes %, CR and LF; property values also ":" and ",".
 */

/** A command's data (after the last "::"). */
export const escapeData = (s: string): string =>
  s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");

/** A property value (`title=…`). */
export const escapeProperty = (s: string): string =>
  escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");

/** Opens a collapsible group titled `title`. */
export const group = (title: string): string => `::group::${escapeData(title)}`;

export const endGroup = "::endgroup::";

/** An error annotation: shown on the run's summary page, titled, with one message. */
export const error = (title: string, message: string): string =>
  `::error title=${escapeProperty(title)}::${escapeData(message)}`;
