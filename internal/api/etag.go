package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ramp-flags/ramp"
)

// ETag is an object's entity tag: its version and the database's epoch,
// `"<version>-<epoch>"`. The epoch makes tags of two databases (or of a
// database restored from a backup, once its epoch is renewed) differ
// whatever their versions.
func ETag(version int64, epoch string) string {
	return `"` + strconv.FormatInt(version, 10) + "-" + epoch + `"`
}

// ParseETag reads an ETag back into its version and epoch.
func ParseETag(tag string) (version int64, epoch string, err error) {
	t := strings.TrimSpace(tag)
	t = strings.TrimPrefix(t, "W/")
	if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
		return 0, "", fmt.Errorf("entity tag %q is not quoted", tag)
	}
	v, e, ok := strings.Cut(t[1:len(t)-1], "-")
	if !ok || e == "" {
		return 0, "", fmt.Errorf("entity tag %q is not \"<version>-<epoch>\"", tag)
	}
	version, err = strconv.ParseInt(v, 10, 64)
	if err != nil || version <= 0 {
		return 0, "", fmt.Errorf("entity tag %q: version is not a positive number", tag)
	}
	return version, e, nil
}

// precondition reads a request's If-Match against the database's epoch
// and returns the version the caller decided from. required says whether
// the request must carry one (428 without).
func precondition(r *http.Request, epoch string, required bool) (int64, error) {
	h := r.Header.Get("If-Match")
	if h == "" {
		if required {
			return 0, &httpError{status: http.StatusPreconditionRequired, kind: ramp.KindInvalid,
				msg: "this move depends on the object's current state: send If-Match with the ETag of the version you decided from (read it first)"}
		}
		return 0, nil
	}
	if strings.Contains(h, ",") || strings.TrimSpace(h) == "*" {
		return 0, &httpError{status: http.StatusBadRequest, kind: ramp.KindInvalid,
			msg: "If-Match must name exactly one entity tag"}
	}
	version, e, err := ParseETag(h)
	if err != nil {
		return 0, &httpError{status: http.StatusBadRequest, kind: ramp.KindInvalid, msg: "If-Match: " + err.Error()}
	}
	if e != epoch {
		return 0, &httpError{status: http.StatusPreconditionFailed, kind: ramp.KindConflict,
			msg: fmt.Sprintf("the database changed meanwhile (epoch %s, now %s: restored or replaced); re-read and retry", e, epoch)}
	}
	return version, nil
}
