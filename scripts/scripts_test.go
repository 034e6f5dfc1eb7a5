// Package scripts holds the tests of the shell scripts in this folder.
package scripts

import (
	"autoresearch/internal/testfs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// devicePack lays out a project root with .device-pack/ as make device-pack leaves it, with a
// fake Go (a go command that prints its GOFLAGS) and a one-file vendor tree, and returns the
// root.
func devicePack(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here to make the pack with", tool)
		}
	}
	root := t.TempDir()
	pack := filepath.Join(root, ".device-pack")
	stage := t.TempDir()
	files := map[string]string{
		"go/bin/go":          "#!/bin/sh\necho \"fake go $* GOFLAGS=$GOFLAGS\"\n",
		"vendor/modules.txt": "# fake\n",
	}
	for name, body := range files {
		p := filepath.Join(stage, name)
		testfs.MkdirAll(t, filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testfs.MkdirAll(t, pack, 0o755)
	for _, tarball := range []struct{ name, dir string }{{"go.tar.xz", "go"}, {"vendor.tar.xz", "vendor"}} {
		cmd := exec.Command("tar", "cJf", filepath.Join(pack, tarball.name), tarball.dir)
		cmd.Dir = stage
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	}
	launcher, err := os.ReadFile("with-go")
	if err != nil {
		t.Fatal(err)
	}
	testfs.WriteFile(t, filepath.Join(pack, "with-go"), launcher, 0o755)
	return root
}

// pathWith makes a PATH folder holding links to the named tools of this machine (those it
// has).
func pathWith(t *testing.T, tools ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range tools {
		if p, err := exec.LookPath(tool); err == nil {
			testfs.Symlink(t, p, filepath.Join(dir, tool))
		}
	}
	return dir
}

// The tools with-go itself runs, always present in these tests.
var base = []string{"dirname", "rm", "mkdir", "mv", "touch", "tar"}

func withGo(t *testing.T, root, path string, args ...string) (string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command(bash, append([]string{filepath.Join(root, ".device-pack", "with-go")}, args...)...)
	cmd.Env = []string{"PATH=" + path, "DEVICE_GO=" + filepath.Join(root, "device-go"), "HOME=" + root}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestWithGoRunsThePackedGo(t *testing.T) {
	root := devicePack(t)
	path := pathWith(t, append(base, "xz", "gcc")...)
	out, err := withGo(t, root, path, "go", "version")
	if err != nil || !strings.Contains(out, "fake go version GOFLAGS=-mod=vendor -buildvcs=false") {
		t.Fatalf("with-go go version: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, "vendor", "modules.txt")); err != nil {
		t.Errorf("vendor not unpacked: %v", err)
	}
}

func TestWithGoUnpacksWithPythonWithoutXz(t *testing.T) {
	path := pathWith(t, append(base, "gcc")...)
	// A python3 that runs with nothing else on PATH (a version manager's shim would not).
	for _, py := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		cmd := exec.Command(py, "-c", "import lzma")
		cmd.Env = []string{"PATH=" + path}
		if cmd.Run() == nil {
			testfs.Symlink(t, py, filepath.Join(path, "python3"))
			break
		}
	}
	if _, err := os.Stat(filepath.Join(path, "python3")); err != nil {
		t.Skip("no python3 with lzma here")
	}
	root := devicePack(t)
	out, err := withGo(t, root, path, "go", "version")
	if err != nil || !strings.Contains(out, "fake go version") {
		t.Fatalf("with-go without xz, with python3: %v\n%s", err, out)
	}
}

func TestWithGoNamesTheMissingTool(t *testing.T) {
	for _, c := range []struct {
		name  string
		tools []string
		args  []string
		want  []string
	}{
		{"xz", []string{"gcc", "make"}, []string{"go", "version"}, []string{"xz: install it", "apt-get install xz-utils"}},
		{"gcc", []string{"xz", "make"}, []string{"go", "version"}, []string{"gcc, the C compiler", "apt-get install gcc", "set CC"}},
		{"make", []string{"xz", "gcc"}, []string{"make", "gpu-check-1"}, []string{"make: install it", "apt-get install make"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := devicePack(t)
			out, err := withGo(t, root, pathWith(t, append(base, c.tools...)...), c.args...)
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 127 {
				t.Fatalf("with-go without %s: %v, want exit status 127\n%s", c.name, err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("message without %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "fake go") {
				t.Errorf("the command ran although %s is missing:\n%s", c.name, out)
			}
			if _, err := os.Stat(filepath.Join(root, "device-go")); err == nil {
				t.Errorf("Go unpacked although %s is missing", c.name)
			}
		})
	}
}
