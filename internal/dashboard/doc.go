// Package dashboard is ramp's web dashboard: server-rendered pages over the
// control plane (internal/admin), served by `ramp serve` at /.
//
// Pages: Flags (search, a flag's variants, rules, kill switch, plan,
// experiments, and "why does this user get this variant"), Rollouts (each
// plan as a timeline of its stages), the Audit log (filters and readable
// diffs) and Experiments (status, phases, the sample-ratio check first, the
// report's charts). People whose role allows it act from the pages: the
// kill switch, advance, pause and resume, roll back, approve. Every action
// goes through a confirmation page that shows the dry run of the move, and
// its POST carries the version the confirmation was computed from, so that
// a plan changed meanwhile is refused rather than moved blindly.
//
// Everything the browser loads comes from the binary (html/template and a
// stylesheet in an embed.FS); no script runs and nothing is fetched from
// elsewhere, under a strict Content-Security-Policy. People sign in by
// pasting a personal token (checked by the same auth.Authenticator as the
// admin API) or through OIDC when the server has it; the dashboard then
// keeps a server-side session behind a __Host- cookie (Secure, HttpOnly,
// SameSite=Lax). Every state-changing request passes Go's
// net/http.CrossOriginProtection, and every action checks the principal's
// permission on the server: a viewer who sees no button cannot use its
// endpoint either (403).
//
// docs/dashboard.md describes the pages, roles and headers.
package dashboard
