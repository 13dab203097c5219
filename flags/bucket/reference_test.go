package bucket_test

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestIndependentReference checks the golden vectors, of the bucketing
// function and of experiment assignments, with a from-scratch
// implementation in another language (testdata/reference.py), the way an
// SDK author would check theirs.
func TestIndependentReference(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	out, err := exec.Command(py, filepath.Join("testdata", "reference.py"),
		filepath.Join("testdata", "golden_v1.tsv"), filepath.Join("testdata", goldenExperimentsFile)).CombinedOutput()
	if err != nil {
		t.Fatalf("reference implementation disagrees: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
