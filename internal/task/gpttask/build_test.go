package gpttask

import (
	"autoresearch/internal/runner"
	"autoresearch/internal/testfs"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestGoBuildForCUDAUsesCUDAHome(t *testing.T) {
	home := testfs.Toolkit(t, t.TempDir(), true)
	t.Setenv("CUDA_HOME", home)
	argv, env := GoBuild("./gpt", runner.CUDA)
	vars := map[string]string{runner.BinVar: "/r/bin/train", runner.WorktreeVar: "/r/wt"}
	if got := strings.Join(runner.Expand(argv, vars), " "); got != "go build -buildvcs=false -tags cuda -o /r/bin/train ./gpt" {
		t.Errorf("argv %s", got)
	}
	// No library folder yet: the toolkit's layout is assumed.
	lib := filepath.Join(home, "lib64")
	want := "CGO_ENABLED=1|CGO_CFLAGS=-I/r/wt/internal/tensor/cuda/include -I" + filepath.Join(home, "include") +
		"|CGO_LDFLAGS=-L" + lib + " -L" + lib + "/stubs -Wl,-rpath," + lib
	if got := strings.Join(runner.Expand(env, vars), "|"); got != want {
		t.Errorf("env\n%s\nwant\n%s", got, want)
	}
}

func TestDeviceEnv(t *testing.T) {
	home := testfs.Toolkit(t, t.TempDir(), true)
	t.Setenv("CUDA_HOME", home)
	t.Setenv("LD_LIBRARY_PATH", "/usr/lib/extra")
	if env := DeviceEnv(runner.CPU); len(env) != 0 {
		t.Errorf("cpu env %v, want none", env)
	}
	if got := strings.Join(DeviceEnv(runner.CUDA), "|"); got != "LD_LIBRARY_PATH="+home+"/lib64:/usr/lib/extra" {
		t.Errorf("cuda env %s", got)
	}
	testfs.MkdirAll(t, filepath.Join(home, "lib", "nvrtc"), 0o755)
	testfs.MkdirAll(t, filepath.Join(home, "lib", "stubs"), 0o755)
	if got := strings.Join(DeviceEnv(runner.CUDA), "|"); got != "LD_LIBRARY_PATH="+home+"/lib/nvrtc:/usr/lib/extra" {
		t.Errorf("cuda env of the SDK layout %s", got)
	}
}

// A program that needs the three libraries a cuda build links (-lcuda -lcublas -lnvrtc).
const cudaLinkProgram = `package main

/*
#cgo LDFLAGS: -lcuda -lcublas -lnvrtc
int fake_cuda(void);
int fake_cublas(void);
int fake_nvrtc(void);
*/
import "C"

import "fmt"

func main() { fmt.Println(C.fake_cuda() + C.fake_cublas() + C.fake_nvrtc()) }
`

// sharedLib compiles a one-function shared library at path (with soname when given).
func sharedLib(t *testing.T, path, fn string, value int, soname string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	src := path + ".c"
	testfs.WriteFile(t, src, []byte("int "+fn+"(void) { return "+string(rune('0'+value))+"; }\n"), 0o644)
	args := []string{"-shared", "-fPIC", "-o", path, src}
	if soname != "" {
		args = append(args, "-Wl,-soname,"+soname)
	}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %v: %v\n%s", args, err, out)
	}
	testfs.Remove(t, src)
}

// The C side of cudaLinkProgram, for links with gcc alone.
const cudaLinkMain = `int fake_cuda(void);
int fake_cublas(void);
int fake_nvrtc(void);
int main(void) { return fake_cuda() + fake_cublas() + fake_nvrtc() == 3 ? 0 : 1; }
`

// fakeCUDA makes a CUDA install at home in a layout: lib maps a library's path under home to
// its function. libcuda.so is a link stub naming the driver's libcuda.so.1.
func fakeCUDA(t *testing.T, home string, libs map[string]string) {
	t.Helper()
	testfs.Toolkit(t, home, true)
	for rel, fn := range libs {
		soname := ""
		if fn == "fake_cuda" {
			soname = "libcuda.so.1"
		}
		sharedLib(t, filepath.Join(home, rel), fn, 1, soname)
	}
}

// ldflags is CGO_LDFLAGS of GoBuild's environment, split.
func ldflags(t *testing.T, env []string) []string {
	t.Helper()
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "CGO_LDFLAGS="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("no CGO_LDFLAGS in %v", env)
	return nil
}

// Links a program that needs -lcuda -lcublas -lnvrtc with GoBuild's flags against fake CUDA
// installs in which libcuda.so exists only as a link stub, as on a GPU machine whose driver
// put libcuda.so.1 in the system's library folder: the link must succeed, and fail without
// the stubs folder.
func TestGoBuildForCUDALinksWhereOnlyStubsHaveLibcuda(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc: cgo cannot build here")
	}
	for _, layout := range []struct {
		name  string
		libs  map[string]string
		stubs string // the folder that alone has libcuda.so
	}{
		{"toolkit", map[string]string{
			"lib64/stubs/libcuda.so": "fake_cuda", "lib64/libcublas.so": "fake_cublas", "lib64/libnvrtc.so": "fake_nvrtc",
		}, "lib64/stubs"},
		{"toolkit with targets", map[string]string{
			"targets/x86_64-linux/lib/stubs/libcuda.so": "fake_cuda", "targets/x86_64-linux/lib/libcublas.so": "fake_cublas",
			"targets/x86_64-linux/lib/libnvrtc.so": "fake_nvrtc",
		}, "targets/x86_64-linux/lib/stubs"},
		{"sdk", map[string]string{
			"lib/stubs/libcuda.so": "fake_cuda", "lib/stubs/libcublas.so": "fake_cublas", "lib/stubs/libnvrtc.so": "fake_nvrtc",
			"lib/nvrtc/libnvrtc.so": "fake_nvrtc",
		}, "lib/stubs"},
	} {
		t.Run(layout.name, func(t *testing.T) {
			home := t.TempDir()
			fakeCUDA(t, home, layout.libs)
			t.Setenv("CUDA_HOME", home)
			_, env := GoBuild(".", runner.CUDA)
			flags := ldflags(t, env)
			dir := t.TempDir()
			src := filepath.Join(dir, "main.c")
			testfs.WriteFile(t, src, []byte(cudaLinkMain), 0o644)
			link := func(flags []string) (string, error) {
				args := append([]string{"-o", filepath.Join(dir, "prog"), src, "-lcuda", "-lcublas", "-lnvrtc"}, flags...)
				out, err := exec.Command("gcc", args...).CombinedOutput()
				return string(out), err
			}
			if out, err := link(flags); err != nil {
				t.Fatalf("link with %v: %v\n%s", flags, err, out)
			}
			stubs := "-L" + filepath.Join(home, layout.stubs)
			without := slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == stubs })
			if len(without) == len(flags) {
				t.Fatalf("%v has no %s", flags, stubs)
			}
			if out, err := link(without); err == nil || !strings.Contains(out, "-lcuda") {
				t.Errorf("link without %s: %v %s, want a missing -lcuda", stubs, err, out)
			}
		})
	}
}

// The whole cgo build through GoBuild's command and environment, against the toolkit layout:
// it links, its rpath names the toolkit's lib64 and no stubs folder, and the program runs with
// the driver's libcuda.so.1 from a system folder and the toolkit's libraries through the rpath.
func TestGoBuildForCUDABuildsACgoProgram(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc: cgo cannot build here")
	}
	home := t.TempDir()
	fakeCUDA(t, home, map[string]string{
		"lib64/stubs/libcuda.so": "fake_cuda", "lib64/libcublas.so": "fake_cublas", "lib64/libnvrtc.so": "fake_nvrtc",
	})
	system := t.TempDir()
	sharedLib(t, filepath.Join(system, "libcuda.so.1"), "fake_cuda", 1, "libcuda.so.1")
	src := t.TempDir()
	testfs.WriteFile(t, filepath.Join(src, "go.mod"), []byte("module fake\n\ngo 1.22\n"), 0o644)
	testfs.WriteFile(t, filepath.Join(src, "main.go"), []byte(cudaLinkProgram), 0o644)
	t.Setenv("CUDA_HOME", home)
	bin := filepath.Join(t.TempDir(), "prog")
	vars := map[string]string{runner.BinVar: bin, runner.WorktreeVar: src}
	argv, env := GoBuild(".", runner.CUDA)
	// The cuda tag selects nothing in this program; the flags are what is tested.
	if _, err := runner.Build(context.Background(), src, runner.Expand(argv, vars), runner.Expand(env, vars)); err != nil {
		t.Fatalf("build with %v: %v", env, err)
	}
	rpath := runpath(t, bin)
	if !slices.Contains(rpath, filepath.Join(home, "lib64")) || slices.ContainsFunc(rpath, func(p string) bool { return strings.Contains(p, "stubs") }) {
		t.Errorf("rpath %v: want the toolkit's lib64 and no stubs folder", rpath)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+system)
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "3" {
		t.Errorf("the program: %v %q", err, out)
	}
}

// runpath reads a binary's DT_RUNPATH (or DT_RPATH) folders.
func runpath(t *testing.T, bin string) []string {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dirs []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			dirs = append(dirs, strings.Split(v, ":")...)
		}
	}
	return dirs
}
