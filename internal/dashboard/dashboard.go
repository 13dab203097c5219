package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

//go:embed templates/*.html static/*
var assets embed.FS

// DefaultSessionTTL is how long a sign-in lasts at most when
// Options.SessionTTL is zero (never beyond the credential it was made
// from; a session idle for admin.DefaultSessionIdle ends sooner).
const DefaultSessionTTL = admin.DefaultSessionLifetime

// ContentSecurityPolicy is the policy every page is served with: nothing
// but this server's own stylesheet and images, no script at all, no
// framing, forms posted only here.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// chartPolicy is the policy of a chart's SVG: gonum's SVG styles its
// elements with style attributes, and an image runs no script, so inline
// styles are all it may use.
const chartPolicy = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

// Options configures a Dashboard. Admin, Auth and Sessions are required.
type Options struct {
	// Admin is the control plane every page reads and every action writes
	// through: the same rules and audit log as the CLI and the admin API.
	Admin *admin.Service
	// Auth checks the personal token a person pastes at sign-in, as the
	// admin API checks it (Authorization: Bearer): ramp serve's
	// auth.Checker.
	Auth auth.Authenticator
	// Sessions keeps sign-ins on the server (StoredSessions).
	Sessions Sessions
	// OIDCLogin, when set, is the path that starts the server's single
	// sign-on ("/auth/oidc/login"): the sign-in page links to it, with the
	// page to come back to in its "return_to" query parameter; the
	// sign-on sets the same session cookie.
	OIDCLogin string
	// SessionTTL is how long a sign-in lasts (DefaultSessionTTL when 0);
	// a session never outlives the credential it was made from.
	SessionTTL time.Duration
	// SeriesUnitLimit is the most exposed units of an experiment phase for
	// which the chart draws the lift over time (DefaultSeriesUnitLimit
	// when 0).
	SeriesUnitLimit int64
	Logger          *slog.Logger
	Now             func() time.Time
}

// Dashboard serves the web dashboard. Build it with New; it is an
// http.Handler for every path it does not share with the data plane.
type Dashboard struct {
	opt     Options
	log     *slog.Logger
	pages   map[string]*template.Template
	handler http.Handler
}

// New checks the options and parses the embedded templates.
func New(opt Options) (*Dashboard, error) {
	switch {
	case opt.Admin == nil:
		return nil, errors.New("dashboard: the control plane (Admin) is required")
	case opt.Auth == nil:
		return nil, errors.New("dashboard: an authenticator (Auth) is required")
	case opt.Sessions == nil:
		return nil, errors.New("dashboard: a session store (Sessions) is required")
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = DefaultSessionTTL
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &Dashboard{opt: opt, log: opt.Logger.With("component", "dashboard"), pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(assets, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		d.pages[base] = t
	}
	d.handler = d.routes()
	return d, nil
}

// ServeHTTP serves the dashboard.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.handler.ServeHTTP(w, r) }

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/flags", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /login", d.loginPage)
	mux.HandleFunc("POST /login", d.login)
	mux.HandleFunc("POST /logout", d.logout)

	mux.Handle("GET /flags", d.read(d.flagsPage))
	mux.Handle("GET /flags/{key}", d.read(d.flagPage))
	mux.Handle("GET /flags/{key}/kill-switch", d.act(auth.Write, d.killSwitchConfirm))
	mux.Handle("POST /flags/{key}/kill-switch", d.act(auth.Write, d.killSwitch))

	mux.Handle("GET /rollouts", d.read(d.rolloutsPage))
	mux.Handle("GET /rollouts/{flag}", d.read(d.rolloutPage))
	for _, m := range moves {
		mux.Handle("GET /rollouts/{flag}/"+m.Name, d.act(m.perm, d.moveConfirm(m)))
		mux.Handle("POST /rollouts/{flag}/"+m.Name, d.act(m.perm, d.move(m)))
	}

	mux.Handle("GET /audit", d.read(d.auditPage))
	mux.Handle("GET /experiments", d.read(d.experimentsPage))
	mux.Handle("GET /experiments/{key}", d.read(d.experimentPage))
	mux.Handle("GET /experiments/{key}/report.svg", d.read(d.reportChart))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, nil, &ramp.Error{Kind: ramp.KindNotFound, Msg: "no such page: " + r.URL.Path})
	})

	// Every state-changing request (sign-in and sign-out included) must
	// come from this origin: Sec-Fetch-Site, or failing that Origin
	// against Host. A cross-site form post gets 403 before any handler.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, nil, &ramp.Error{Kind: ramp.KindForbidden, Msg: "cross-origin request refused: forms are accepted only from the dashboard's own pages"})
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("private, max-age=%d", int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// handlerFunc is a page or action: it renders or redirects, or returns an
// error that fail renders.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p auth.Principal) error

// read serves a page to anyone signed in who may read.
func (d *Dashboard) read(fn handlerFunc) http.Handler { return d.act(auth.Read, fn) }

// act serves a page or an action to a signed-in principal who holds perm:
// without a session, pages redirect to the sign-in page and actions get
// 401; without the permission, 403. The principal travels in the context
// (auth.WithPrincipal) and names the audit log's actor (admin.WithActor).
func (d *Dashboard) act(perm auth.Permission, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.principal(r)
		if err != nil {
			var te *auth.ThrottledError
			if errors.Is(err, ramp.ErrUnauthorized) && !errors.As(err, &te) && r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			d.fail(w, r, nil, err)
			return
		}
		if !p.May(auth.Read) || !p.May(perm) {
			d.fail(w, r, &p, auth.Forbidden(p, perm))
			return
		}
		ctx := admin.WithActor(auth.WithPrincipal(r.Context(), p), p.Name)
		if err := fn(w, r.WithContext(ctx), p); err != nil {
			d.fail(w, r, &p, err)
		}
	})
}

// principal returns who the request's session is for.
func (d *Dashboard) principal(r *http.Request) (auth.Principal, error) {
	if _, err := r.Cookie(auth.SessionCookie); err != nil {
		return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "sign in first"}
	}
	p, err := d.opt.Sessions.Authenticate(r)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return auth.Principal{}, err
	case errors.Is(err, ramp.ErrUnauthorized):
		return auth.Principal{}, &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "your session has ended: sign in again", Err: err}
	case err != nil:
		return auth.Principal{}, fmt.Errorf("read the session: %w", err)
	}
	return p, nil
}

// view is what every page's layout reads.
type view struct {
	Title string
	// Nav is the section the page belongs to: flags, rollouts, audit,
	// experiments.
	Nav  string
	Who  *auth.Principal
	Data any
}

// May reports whether the signed-in principal holds a permission named as
// auth.Permission's String says it ("write", "approve"…).
func (v view) May(perm string) bool {
	if v.Who == nil {
		return false
	}
	for _, p := range []auth.Permission{auth.Read, auth.Write, auth.ApproveStage, auth.Administer} {
		if p.String() == perm {
			return v.Who.May(p)
		}
	}
	return false
}

// render writes a page, buffered so that a template error is a 500 and not
// half a page.
func (d *Dashboard) render(w http.ResponseWriter, status int, page string, v view) error {
	t := d.pages[page]
	if t == nil {
		return fmt.Errorf("dashboard: no template %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	if err != nil {
		d.log.Debug("write page", "page", page, "err", err)
	}
	return nil
}

// statusOf maps an error's kind to an HTTP status, as the admin API does.
func statusOf(err error) int {
	switch ramp.KindOf(err) {
	case ramp.KindInvalid:
		return http.StatusBadRequest
	case ramp.KindNotFound:
		return http.StatusNotFound
	case ramp.KindConflict:
		return http.StatusConflict
	case ramp.KindRefused:
		return http.StatusConflict
	case ramp.KindUnauthorized:
		return http.StatusUnauthorized
	case ramp.KindForbidden:
		return http.StatusForbidden
	case ramp.KindBusy:
		return http.StatusServiceUnavailable
	case ramp.KindCanceled:
		return 499
	}
	return http.StatusInternalServerError
}

// problem is what the error page shows.
type problem struct {
	Status  int
	Heading string
	Message string
	// Changed says the object changed between the confirmation and the
	// action: nothing was applied.
	Changed bool
	Back    string
}

// fail renders an error page. Internal errors are logged and shown without
// their detail.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	status := statusOf(err)
	pr := problem{Status: status, Message: err.Error(), Back: r.Header.Get("Referer")}
	if u, perr := url.Parse(pr.Back); perr != nil || u.Host != r.Host {
		pr.Back = ""
	}
	switch status {
	case http.StatusUnauthorized:
		pr.Heading = "Sign in first"
	case http.StatusForbidden:
		pr.Heading = "Not allowed"
	case http.StatusNotFound:
		pr.Heading = "Not found"
	case http.StatusConflict:
		pr.Heading = "Refused"
		if ramp.KindOf(err) == ramp.KindConflict {
			pr.Heading, pr.Changed = "Changed meanwhile", true
			pr.Message = "It changed while you were confirming: nothing was applied. Look at it again and confirm anew. (" + err.Error() + ")"
		}
	case http.StatusBadRequest:
		pr.Heading = "Not valid"
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		d.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pr.Heading, pr.Message = "Something went wrong", "The server could not answer; it logged why. Try again in a moment."
	default:
		pr.Heading = "Could not answer"
	}
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		status, pr.Heading = http.StatusTooManyRequests, "Too many attempts"
		w.Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds()+0.999)))
	}
	pr.Status = status
	if rerr := d.render(w, status, "error", view{Title: pr.Heading, Who: p, Data: pr}); rerr != nil {
		d.log.Error("render the error page", "err", rerr)
		http.Error(w, pr.Message, status)
	}
}

// localPath returns next when it is a path on this server, or def: a
// sign-in never sends anyone elsewhere.
func localPath(next, def string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return def
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return def
	}
	return next
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"), "/flags")
	data := struct{ Next, OIDC, Error string }{Next: next}
	if d.opt.OIDCLogin != "" {
		data.OIDC = d.opt.OIDCLogin + "?return_to=" + url.QueryEscape(next)
	}
	var who *auth.Principal
	if p, err := d.principal(r); err == nil {
		who = &p
	}
	if err := d.render(w, http.StatusOK, "login", view{Title: "Sign in", Who: who, Data: data}); err != nil {
		d.fail(w, r, nil, err)
	}
}

// login checks a pasted token with the authenticator, as the admin API
// would check it, and starts a session for its principal.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		d.fail(w, r, nil, &ramp.Error{Kind: ramp.KindInvalid, Msg: "unreadable form", Err: err})
		return
	}
	next := localPath(r.PostForm.Get("next"), "/flags")
	token := strings.TrimSpace(r.PostForm.Get("token"))
	again := func(status int, msg string) {
		data := struct{ Next, OIDC, Error string }{Next: next, Error: msg}
		if d.opt.OIDCLogin != "" {
			data.OIDC = d.opt.OIDCLogin + "?return_to=" + url.QueryEscape(next)
		}
		if err := d.render(w, status, "login", view{Title: "Sign in", Data: data}); err != nil {
			d.fail(w, r, nil, err)
		}
	}
	if token == "" {
		again(http.StatusBadRequest, "Paste a personal token.")
		return
	}
	// The authenticator reads a request: the token goes in the header it
	// checks, with the client's address (and X-Forwarded-For, which it
	// reads from trusted proxies) for its rate limit on failures.
	check := r.Clone(r.Context())
	check.Header = r.Header.Clone()
	check.Header.Del("Cookie")
	check.Header.Del("X-API-Key")
	check.Header.Set("Authorization", "Bearer "+token)
	check.URL = &url.URL{Path: "/login"}
	check.Form, check.PostForm, check.Body = nil, nil, http.NoBody
	p, err := d.opt.Auth.Authenticate(check)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", fmt.Sprint(int(te.RetryAfter.Seconds()+0.999)))
		again(http.StatusTooManyRequests, te.Error())
		return
	case errors.Is(err, ramp.ErrUnauthorized):
		again(http.StatusUnauthorized, "That token is not valid: unknown, revoked or expired.")
		return
	case err != nil:
		d.fail(w, r, nil, fmt.Errorf("check the token: %w", err))
		return
	}
	if p.Kind == auth.KindKey {
		again(http.StatusForbidden, fmt.Sprintf("%s is an API key, for automation: people sign in with a personal token (ramp tokens create, or ramp login).", p.Name))
		return
	}
	if !p.May(auth.Read) {
		again(http.StatusForbidden, fmt.Sprintf("%s %q has role %s, which may not read the dashboard: use a personal token (viewer, editor or admin).", p.Kind, p.Name, p.Role))
		return
	}
	lifetime := d.opt.SessionTTL
	if !p.Expires.IsZero() {
		lifetime = min(lifetime, p.Expires.Sub(d.opt.Now()))
	}
	secret, expires, err := d.opt.Sessions.CreateSession(r.Context(), p, lifetime)
	if err != nil {
		d.fail(w, r, nil, fmt.Errorf("start a session: %w", err))
		return
	}
	http.SetCookie(w, auth.NewSessionCookie(secret, expires))
	d.log.Info("signed in", "name", p.Name, "role", string(p.Role), "kind", p.Kind)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if secret, err := auth.SessionSecret(r); err == nil {
		if err := d.opt.Sessions.EndSession(r.Context(), secret); err != nil {
			d.fail(w, r, nil, fmt.Errorf("end the session: %w", err))
			return
		}
	}
	http.SetCookie(w, auth.ClearSessionCookie())
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
