// Package stats is the statistics of ramp's experiment reports and
// automatic safety: numbers in, numbers out. It sees only per-arm
// sufficient statistics (units, Σy, Σy², and for ratios and CUPED Σx, Σx²,
// Σxy), never rows, and imports only the standard library and gonum's
// distributions. Every formula is written here with its source beside it;
// the tests reproduce published worked examples and prove, by seeded
// simulation with a known truth, that the error rates are what they claim.
//
// # Comparing two arms
//
// Each comparison returns a Difference: treatment minus control, absolute
// and relative (Treatment/Control − 1), each with a standard error, a
// two-sided interval at the level asked for and a two-sided p-value.
//
//   - Proportions — conversion metrics (share of units with at least one
//     event). The unpooled two-proportion test: variance p(1 − p)/n per
//     arm. Assumes units are independent and each converts at most once.
//   - Means — per-unit sums (replies per user). Welch's t-test: unequal
//     variances, Student's t with Welch–Satterthwaite degrees of freedom.
//     Assumes independent units and enough of them for the mean to be
//     near normal (a few hundred per arm; more for heavy-tailed values,
//     where one whale can move the mean).
//   - Ratios — a sum over a sum per arm (replies per message sent). Units,
//     not events, are independent, so the ratio's variance comes from the
//     delta method on the per-unit pairs (y, x); treating events as
//     independent would understate it.
//   - CUPED — Means with y adjusted by a pre-period covariate x (Deng, Xu,
//     Kohavi and Walker, WSDM 2013), θ pooled over both arms. The same
//     effect, a smaller variance (about 1 − ρ² of it for correlation ρ),
//     so narrower intervals; the variance reduction achieved is reported.
//     Assumes x was measured before assignment.
//
// The relative difference's standard error comes from the delta method in
// every case, so it includes the uncertainty of the control's mean: a
// relative interval is not the absolute one divided by the control.
//
// Intervals and p-values above are fixed-horizon: valid if the data are
// looked at once, at a sample size chosen in advance. Looked at every day
// and acted on when significant, they produce false winners far more often
// than 5% (the simulations show over 15% in 30 daily looks).
//
// # Always-valid results
//
// Sequential turns an estimate and its standard error into a confidence
// sequence (the normal-mixture mSPRT): an interval and a p-value that stay
// valid however often they are looked at and whenever the experiment
// stops. Its tuning parameter NStar is the number of units (both arms) at
// which it is tightest: set it to the planned sample. A wrong NStar costs
// width, never validity.
//
// # Sample ratio
//
// SampleRatio is Pearson's χ² test of units per arm against the weights,
// for a report read once; SequentialSampleRatio is the anytime-valid
// Dirichlet-multinomial Bayes factor test of Lindon and Malek (NeurIPS
// 2022), for a controller that re-checks every day. Its p-value depends only
// on the current counts; the running minimum over checks (kept by
// SampleRatioMonitor) is valid too. Its tuning parameter is the Dirichlet
// prior's concentration (DefaultConcentration).
//
// # Many metrics, guardrails
//
// Holm controls the chance of any false positive among several metrics
// (family-wise error), BenjaminiHochberg the expected share of false ones
// among those called significant (false discovery rate); ramp's report uses
// Holm for secondary metrics, the stricter choice for a handful of them.
//
// Guardrail judges one guardrail metric one-sided: regressed when the
// relative difference is, with confidence, worse than its non-inferiority
// margin in the metric's bad direction; ok when, with confidence, it is
// not; inconclusive otherwise. It takes an interval, so it works with a
// fixed-horizon interval (a report) and with a Sequential one (a live
// rollout stage watched daily). Each verdict reads one end of the interval,
// so an interval at level 0.90 judges one-sided at about 95%; the
// simulations show a guardrail watched daily for 30 days with a 0.90
// sequence declaring a false regression (treatment exactly at the margin)
// in under 2% of runs, against about 24% with fixed-horizon intervals.
//
// # Errors
//
// Input that cannot be analysed returns an error wrapping one of
// ErrInvalid, ErrTooFewUnits, ErrZeroVariance, ErrZeroDenominator or
// ErrZeroControl — never NaN, never a panic.
package stats
