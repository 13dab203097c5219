// Package chart draws an experiment's results as pictures: what
// `ramp experiments report --plot FILE` writes and what the dashboard
// serves as SVG, from the same code.
//
// Three charts, each a Chart to pass to WriteSVG, WritePNG or Write:
//
//   - Forest: a forest plot, a row per metric and treatment arm with its
//     relative lift over control, the fixed-horizon confidence interval
//     as a thick bar and the always-valid confidence sequence as a thin
//     line, a zero line, percent ticks, the numbers beside each row and a
//     legend. Markers differ in colour and shape by verdict (better,
//     worse, guardrail ok or regressed, inconclusive); a guardrail's
//     margin is a dashed mark; a bound beyond the axis, infinite ones
//     included, ends in an arrow.
//   - Series: one arm's lift over time, the confidence sequence as a
//     light band, the fixed interval as a darker band inside it, the
//     estimate as a line, on a time axis of whole days or weeks in UTC.
//   - Report: a title, the forest plot, and the series below it as small
//     multiples (a row of panels per metric, a panel per arm, shared
//     axes) — the one image that --plot writes.
//
// The input is plain data, fractions like 0.05 for +5%, so that the
// package depends on no statistics code; the report fills it in.
//
// # What the pictures promise
//
// Every chart is Width (900) pixels wide; its height grows with what it
// shows (Size). Labels never overlap: long metric keys get a row of their
// own or are shortened with an ellipsis, and the plot keeps at least 300
// pixels. Colours come from Okabe and Ito's palette, safe for colour-blind
// readers, and every colour difference is also a difference of shape. The
// background is opaque white, so a chart also reads on a dark page.
//
// Rendering is offline and deterministic: the same input gives the same
// bytes. Text is set in Liberation Sans, embedded in gonum/plot's font
// packages and loaded from memory into a font cache of this package's own;
// no system font is read and nothing is fetched. An SVG names no font
// file: it asks for Liberation Sans, then the metric-compatible Arial and
// Helvetica, and gives each text element its measured width (textLength)
// so that a wider fallback font is condensed rather than run into its
// neighbour.
//
// Invalid data (no rows, a NaN, an interval upside down) is an error
// wrapping ErrInvalid that names the row or point, and nothing is written.
package chart
