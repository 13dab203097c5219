package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/ramp-flags/ramp/cohorts"
	"github.com/ramp-flags/ramp/cohorts/csvfile"
	"github.com/ramp-flags/ramp/internal/admin"
)

// importOptions are the flags of `ramp cohorts import` and `diff`.
type importOptions struct {
	mode         string
	idColumn     string
	regionColumn string
	delimiter    string
	dryRun       bool
	allowEmpty   bool
	skipInvalid  bool
	rejects      string
	maxRows      int
	maxLineBytes int
}

func (o *importOptions) addFlags(cmd *cobra.Command, withMode bool) {
	fl := cmd.Flags()
	if withMode {
		fl.StringVar(&o.mode, "mode", "replace", "replace (the file is the whole list), add or remove")
		fl.BoolVar(&o.dryRun, "dry-run", false, "read the file and report what would change; write nothing")
		fl.BoolVar(&o.allowEmpty, "allow-empty", false, "let a replace with a file of no valid rows empty the cohort")
		fl.StringVar(&o.rejects, "rejects", "", "with --skip-invalid, write the invalid rows to this CSV file with their line and reason")
	}
	fl.BoolVar(&o.skipInvalid, "skip-invalid", false, "take the valid rows and skip invalid ones (see --rejects) instead of rejecting the file")
	fl.StringVar(&o.idColumn, "id-column", "", `column of user ids (default "user_id", else "id")`)
	fl.StringVar(&o.regionColumn, "region-column", "", `column of home regions (default "region", optional)`)
	fl.StringVar(&o.delimiter, "delimiter", "", `field delimiter: one character, or "tab" (default: detected from the header line: , ; tab or |, or Excel's "sep=" line)`)
	fl.IntVar(&o.maxRows, "max-rows", csvfile.DefaultMaxRows, "most data rows accepted in one file")
	fl.IntVar(&o.maxLineBytes, "max-line-bytes", csvfile.DefaultMaxLineBytes, "longest row accepted, in bytes (the lines of a quoted field count together)")
}

func (o *importOptions) csvOptions() (csvfile.Options, error) {
	opt := csvfile.Options{IDColumn: o.idColumn, RegionColumn: o.regionColumn, MaxRows: o.maxRows, MaxLineBytes: o.maxLineBytes}
	switch d := o.delimiter; {
	case d == "":
		// detected by csvfile
	case d == "tab" || d == `\t`:
		opt.Delimiter = '\t'
	case utf8.RuneCountInString(d) == 1:
		opt.Delimiter, _ = utf8.DecodeRuneInString(d)
	default:
		return opt, &UsageError{Err: fmt.Errorf("--delimiter %q: want one character", d)}
	}
	if o.rejects != "" && !o.skipInvalid {
		return opt, &UsageError{Err: errors.New("--rejects needs --skip-invalid")}
	}
	return opt, nil
}

// importFile is a CSV file being read for an import, with the rejects
// file its invalid rows go to.
type importFile struct {
	in      *inputFile
	header  []string // the file's, once read
	rejects *csv.Writer
	rejFile *os.File
	closed  bool
}

// openImportFile opens the file to import (see openInput) and the rejects
// file, and returns the options to read it with.
func openImportFile(f *Factory, name string, o *importOptions) (*importFile, csvfile.Options, error) {
	opt, err := o.csvOptions()
	if err != nil {
		return nil, opt, err
	}
	in, err := openInput(f.IO, name, 0)
	if err != nil {
		return nil, opt, err
	}
	file := &importFile{in: in}
	if o.skipInvalid {
		opt.OnInvalid = file.reject
	}
	if o.rejects != "" {
		if file.rejFile, err = os.Create(o.rejects); err != nil {
			in.Close()
			return nil, opt, err
		}
		file.rejects = csv.NewWriter(file.rejFile) // buffered
	}
	return file, opt, nil
}

// reject writes an invalid row to the rejects file, under the file's
// header and "line" and "reason".
func (file *importFile) reject(p csvfile.Problem) error {
	if file.rejects == nil {
		return nil
	}
	rec := append([]string{}, p.Record...)
	if rec == nil {
		// A row that could not be parsed: empty fields keep the line and
		// reason under their headers.
		rec = make([]string, len(file.header))
	}
	rec = append(rec, strconv.Itoa(p.Line), p.Reason)
	for i := range rec {
		rec[i] = csvfile.SafeCell(rec[i]) // the rejects are for a spreadsheet
	}
	return file.rejects.Write(rec)
}

// setHeader takes the file's header and heads the rejects file with it.
func (file *importFile) setHeader(h []string) error {
	file.header = h
	if file.rejects == nil {
		return nil
	}
	header := append(append([]string{}, h...), "line", "reason")
	for i := range header {
		header[i] = csvfile.SafeCell(header[i]) // the rejects are for a spreadsheet
	}
	return file.rejects.Write(header)
}

func (file *importFile) close() error {
	if file.closed {
		return nil
	}
	file.closed = true
	err := file.in.Close()
	if file.rejects != nil {
		file.rejects.Flush()
		err = errors.Join(err, file.rejects.Error(), file.rejFile.Close())
	}
	return err
}

func newCohortsImportCmd(f *Factory) *cobra.Command {
	var o importOptions
	var create bool
	cmd := &cobra.Command{
		Use:   "import COHORT FILE",
		Short: "Import a cohort's member list from a CSV file, atomically",
		Long: `Import user ids (and home regions) from a CSV file with a header row into a
cohort's member list. The cohort must exist, unless --create is given (a
misspelled name is refused with the closest existing one). FILE may be "-"
for stdin and may be gzip-compressed.

Columns are found by name, case-insensitively: ids in "user_id" (else "id")
unless --id-column names another, regions in "region" unless --region-column
names another; other columns are ignored. A region is a country code; for
Namibia write country:NA (NA alone is the group North America in rules). The
import is one transaction: interrupted at any point, the cohort keeps its
previous members.

By default one invalid row (empty or over-long id, invalid UTF-8, control,
bidirectional or zero-width characters, unknown region, wrong number of
fields) rejects the whole file
and nothing is written; --skip-invalid imports the valid rows and writes the
others to --rejects.`,
		Example: `  ramp cohorts import beta-testers testers.csv --create
  ramp cohorts import beta-testers more.csv --mode add
  gzip -dc export.csv.gz | ramp cohorts import territory-fr - --delimiter ';' --id-column uid
  ramp cohorts import beta-testers testers.csv --skip-invalid --rejects rejects.csv`,
		Args: exactArgs(2, "a cohort key and a file"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return []string{"csv", "gz"}, cobra.ShellCompDirectiveFilterFileExt
			}
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			mode, err := admin.ParseImportMode(o.mode)
			if err != nil {
				return &UsageError{Err: fmt.Errorf("--mode: %w", err)}
			}
			req := admin.ImportRequest{Mode: mode, DryRun: o.dryRun, AllowEmpty: o.allowEmpty, Create: create}
			res, took, err := runImport(cmd, f, args[0], args[1], &o, req)
			if err != nil {
				return err
			}
			printImportSummary(f.IO.ErrOut, args[0], mode, res, took)
			return nil
		},
	}
	cmd.Flags().BoolVar(&create, "create", false, "create the cohort if it does not exist")
	o.addFlags(cmd, true)
	return cmd
}

func newCohortsDiffCmd(f *Factory) *cobra.Command {
	var o importOptions
	var show int
	cmd := &cobra.Command{
		Use:   "diff COHORT FILE",
		Short: "Show what importing a CSV file would add to and remove from a cohort",
		Long: `Compare a CSV file, read as ramp cohorts import reads it, with a cohort's
member list: print the ids a replace would add (+) and remove (-), up to
--show of each, and the counts. Nothing is written.`,
		Example: `  ramp cohorts diff beta-testers testers.csv
  ramp cohorts diff beta-testers testers.csv --show 0`,
		Args: exactArgs(2, "a cohort key and a file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if err := cohorts.ValidateKey(key); err != nil {
				return &UsageError{Err: fmt.Errorf("cohort %w", err)}
			}
			file, opt, err := openImportFile(f, args[1], &o)
			if err != nil {
				return err
			}
			defer file.close()
			var d admin.Diff
			err = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				d, err = a.DiffMembers(ctx, admin.DiffRequest{Cohort: key, Source: file.in, File: args[1], CSV: opt, Samples: show})
				return err
			})
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f.IO.Out)
			for _, id := range d.AddedSample {
				fmt.Fprintf(w, "+ %s\n", id)
			}
			for _, id := range d.RemovedSample {
				fmt.Fprintf(w, "- %s\n", id)
			}
			if d.Created {
				fmt.Fprintf(w, "cohort %s does not exist", key)
				if d.DidYouMean != "" {
					fmt.Fprintf(w, " (did you mean %s?)", d.DidYouMean)
				}
				fmt.Fprintf(w, ": an import with --create would create it\n")
			}
			fmt.Fprintf(w, "%s to add, %s to remove, %s, %s unchanged\n",
				thousands(d.Added), thousands(d.Removed), plural(d.Updated, "region change", "region changes"), thousands(d.Unchanged))
			if more := d.Added - len(d.AddedSample) + d.Removed - len(d.RemovedSample); more > 0 && show > 0 {
				fmt.Fprintf(w, "(%s more ids not shown; raise --show)\n", thousands(more))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return file.close()
		},
	}
	cmd.Flags().IntVar(&show, "show", 20, "how many added and removed ids to print, at most, of each")
	o.addFlags(cmd, false)
	return cmd
}

// runImport imports the file into the cohort through the control plane,
// showing progress on a terminal.
func runImport(cmd *cobra.Command, f *Factory, key, name string, o *importOptions, req admin.ImportRequest) (admin.ImportResult, time.Duration, error) {
	if err := cohorts.ValidateKey(key); err != nil {
		return admin.ImportResult{}, 0, &UsageError{Err: fmt.Errorf("cohort %w", err)}
	}
	start := time.Now()
	file, opt, err := openImportFile(f, name, o)
	if err != nil {
		return admin.ImportResult{}, 0, err
	}
	defer file.close()
	req.Cohort, req.Source, req.CSV, req.Header = key, file.in, opt, file.setHeader
	req.File = name
	if name != "-" {
		if abs, err := filepath.Abs(name); err == nil {
			req.File = abs
		}
	}
	bar := newProgress(f.IO, file.in.size)
	req.Progress = bar.report()
	var res admin.ImportResult
	err = f.withAdmin(cmd.Context(), req.Create, func(ctx context.Context, a Control) error {
		res, err = a.ImportMembers(ctx, req)
		return err
	})
	bar.finish()
	if err != nil {
		return res, 0, importHint(err)
	}
	if err := file.close(); err != nil {
		return res, 0, err
	}
	return res, time.Since(start), nil
}

// importHint adds to the control plane's refusals the flag that overrides
// them.
func importHint(err error) error {
	var (
		unknown *admin.UnknownCohortError
		limit   *csvfile.LimitError
	)
	switch {
	case errors.As(err, &limit) && limit.Limit == "rows":
		return withHint(err, "--max-rows sets the limit")
	case errors.As(err, &limit):
		return withHint(err, "--max-line-bytes sets the limit")
	case errors.As(err, &unknown) && unknown.NotCreated:
		return withHint(err, "pass --create to create cohort "+unknown.Key)
	case errors.Is(err, admin.ErrEmptyReplace):
		return withHint(err, "pass --allow-empty to empty the cohort on purpose")
	}
	return err
}

// hinted is an error with a hint of the command line's appended.
type hinted struct {
	err  error
	hint string
}

func withHint(err error, hint string) error { return &hinted{err, hint} }

func (h *hinted) Error() string { return h.err.Error() + " (" + h.hint + ")" }
func (h *hinted) Unwrap() error { return h.err }

func printImportSummary(w io.Writer, key string, mode admin.ImportMode, res admin.ImportResult, took time.Duration) {
	prefix := ""
	if res.DryRun {
		prefix = "dry run, nothing written: "
	}
	if res.Created {
		verb := "was created"
		if res.DryRun {
			verb = "would be created"
		}
		fmt.Fprintf(w, "%scohort %s did not exist and %s\n", prefix, key, verb)
	}
	fmt.Fprintf(w, "%s%s (%s): %s, %s added, %s removed, %s, %s unchanged, %s, %s rejected; %s members now (%.1fs)\n",
		prefix, key, mode, pluralK(res.Rows, "row", "rows"), thousands(res.Added), thousands(res.Removed),
		pluralK(res.Updated, "region change", "region changes"), thousands(res.Unchanged),
		pluralK(res.Duplicates, "duplicate", "duplicates"), thousands(res.Rejected), thousands(res.Members), took.Seconds())
	if len(res.ByRegion) == 0 {
		return
	}
	regions := make([]cohorts.Region, 0, len(res.ByRegion))
	for r := range res.ByRegion {
		regions = append(regions, r)
	}
	sort.Slice(regions, func(i, j int) bool {
		if res.ByRegion[regions[i]] != res.ByRegion[regions[j]] {
			return res.ByRegion[regions[i]] > res.ByRegion[regions[j]]
		}
		return regions[i] < regions[j]
	})
	parts := make([]string, 0, len(regions))
	for i, r := range regions {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("%d more", len(regions)-10))
			break
		}
		name := string(r)
		if name == "" {
			name = admin.UnknownRegion
		}
		parts = append(parts, name+" "+thousands(res.ByRegion[r]))
	}
	fmt.Fprintf(w, "  by region: %s\n", strings.Join(parts, ", "))
}

// pluralK is plural with the count's thousands separated.
func pluralK(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

func newCohortsExportCmd(f *Factory) *cobra.Command {
	var file, format string
	var raw bool
	cmd := &cobra.Command{
		Use:   "export COHORT",
		Short: "Write a cohort's member list as CSV (user_id,region)",
		Long: `Write a cohort's listed members as CSV with a header, user_id,region, sorted
by id: the file re-imports to the same list. Members stream from the
database, to stdout or to --file FILE (written whole or not at all; a FILE
ending in .gz is gzip-compressed). -o is the output format, as everywhere:
csv is the only one here.

The file is safe to open in a spreadsheet: an id that starts with = + - or @
(a formula, or an id such as -123 or +4915112345678) is written with a single
quote before it, '=1+1, so that the spreadsheet shows it as text instead of
running it (CSV injection). ramp cohorts import and diff take that quote off
again: an id that itself starts with quotes before one of those characters
gets one more ('=x is written ''=x), so the file re-imports exactly. --raw
writes ids as they are, for programs rather than spreadsheets.`,
		Example: `  ramp cohorts export beta-testers > testers.csv
  ramp cohorts export beta-testers --file testers.csv.gz
  ramp cohorts export beta-testers --raw | my-loader`,
		Args: exactArgs(1, "one cohort key"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completeCohortKeys(cmd, f, args)
		},
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			switch {
			case format == "" || format == "csv":
			case file == "" && strings.ContainsAny(format, "./\\"):
				// Before --file, -o named the file. Kept for one release:
				// no format has a dot or a slash in its name.
				fmt.Fprintf(f.IO.ErrOut, "ramp: -o FILE is deprecated and will mean the output format only: use --file %s\n", format)
				file = format
			default:
				return &UsageError{Err: fmt.Errorf("unknown output format %q: cohorts export writes csv (to name a file, use --file)", format), Command: cmd.CommandPath()}
			}
			var w io.Writer = f.IO.Out
			var closers []func() error
			toFile := file != "" && file != "-"
			if toFile {
				tmp, err := os.CreateTemp(filepath.Dir(file), ".ramp-export-*")
				if err != nil {
					return err
				}
				defer func() {
					if err != nil {
						tmp.Close()
						os.Remove(tmp.Name())
					}
				}()
				w = tmp
				closers = append(closers, tmp.Close, func() error { return os.Rename(tmp.Name(), file) })
				if strings.HasSuffix(file, ".gz") {
					zw := gzip.NewWriter(tmp)
					w = zw
					closers = append([]func() error{zw.Close}, closers...)
				}
			}
			var n int
			err = f.withAdmin(cmd.Context(), false, func(ctx context.Context, a Control) error {
				n, err = a.ExportMembers(ctx, args[0], w, admin.ExportOptions{Raw: raw})
				return err
			})
			if err != nil {
				return err
			}
			for _, c := range closers {
				if err := c(); err != nil {
					return err
				}
			}
			if toFile {
				fmt.Fprintf(f.IO.ErrOut, "%s: %s written to %s\n", args[0], plural(n, "member", "members"), file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to FILE instead of stdout (.gz: compressed)")
	cmd.Flags().StringVarP(&format, "output", "o", "", "output format: csv")
	cmd.Flags().BoolVar(&raw, "raw", false, "write ids as they are, without the quote that keeps a spreadsheet from running = + - @ as a formula")
	return cmd
}
