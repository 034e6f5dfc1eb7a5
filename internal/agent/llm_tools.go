package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"

	"autoresearch/internal/results"
)

// The tool names, exactly as the model sees them.
const (
	toolReadFile  = "read_file"
	toolEditFile  = "edit_file"
	toolWriteFile = "write_file"
	toolCheck     = "check"
	toolSubmit    = "submit"
	toolGiveUp    = "give_up"
)

// ToolNames lists the LLM agent's tools in the order the model is offered them.
func ToolNames() []string {
	return []string{toolReadFile, toolEditFile, toolWriteFile, toolCheck, toolSubmit, toolGiveUp}
}

// llmTools returns the function definitions sent with every request.
func llmTools(example string) []openai.Tool {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	obj := func(props map[string]any, required ...string) map[string]any {
		if required == nil {
			required = []string{}
		}
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	}
	fn := func(name, desc string, params map[string]any) openai.Tool {
		return openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{Name: name, Description: desc, Parameters: params}}
	}
	return []openai.Tool{
		fn(toolReadFile, "Read a file of the run's worktree (any file; a directory gives its listing). Paths are relative to the worktree root, e.g. "+example+".",
			obj(map[string]any{"path": str("slash-separated path relative to the worktree root")}, "path")),
		fn(toolEditFile, "Replace one exact, unique occurrence of old_string with new_string in an editable file. Copy old_string from the file exactly, with enough context to be unique.",
			obj(map[string]any{
				"path":       str("the editable file, e.g. " + example),
				"old_string": str("the exact text to replace; must occur exactly once"),
				"new_string": str("the replacement text"),
			}, "path", "old_string", "new_string")),
		fn(toolWriteFile, "Replace the whole content of an editable file. Prefer edit_file for small changes.",
			obj(map[string]any{"path": str("the editable file, e.g. " + example), "content": str("the complete new file")}, "path", "content")),
		fn(toolCheck, "Build the program as it is now (the task's build). Returns ok or the build's errors. Costs seconds, not a run.",
			obj(map[string]any{})),
		fn(toolSubmit, "Finish: the edited program is built and run for the fixed budget. The description is one short line for results.tsv, saying what changed (e.g. \"raise matrix LR to 0.05\").",
			obj(map[string]any{"description": str("one line, under 100 characters")}, "description")),
		fn(toolGiveUp, "Abandon this idea: its change is thrown away. Use it when a failure shows the idea itself is broken.",
			obj(map[string]any{"reason": str("why the idea is abandoned, one line")}, "reason")),
	}
}

// toolOutcome is what executing one tool call produced.
type toolOutcome struct {
	content string // sent back to the model as the tool message
	isError bool   // the call was refused or failed; the model may try again
	submit  string // non-empty: the proposal is finished with this description
	giveUp  string // non-empty: the model abandoned the idea for this reason
}

func toolErr(format string, args ...any) toolOutcome {
	return toolOutcome{content: "error: " + fmt.Sprintf(format, args...), isError: true}
}

// editRoot is the clone the tools act in: reads anywhere under the
// worktree, writes only to the editable paths. os.Root refuses any name that
// leaves the root, by ".." or by a symlink, at the moment of access; the
// lexical checks before it only make the refusals readable.
type editRoot struct {
	root     *os.Root
	editable []string // cleaned, slash-separated
	base     map[string][]byte
	check    func(ctx context.Context) (string, bool) // the task's build; nil when it has none
	built    string                                   // the editable files as of the last check that passed
}

func openEditRoot(dir string, editable []string, check func(context.Context) (string, bool)) (*editRoot, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("llm agent: opening worktree: %w", err)
	}
	w := &editRoot{root: root, base: map[string][]byte{}, check: check}
	for _, p := range editable {
		p = path.Clean(p)
		w.editable = append(w.editable, p)
		b, err := root.ReadFile(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			root.Close()
			return nil, fmt.Errorf("llm agent: reading editable file %s: %w", p, err)
		}
		w.base[p] = b
	}
	if len(w.editable) == 0 {
		root.Close()
		return nil, errors.New("llm agent: the request names no editable path")
	}
	return w, nil
}

func (w *editRoot) Close() error { return w.root.Close() }

// changed reports whether any editable file differs from its content when the
// root was opened.
func (w *editRoot) changed() bool {
	for _, p := range w.editable {
		b, err := w.root.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && w.base[p] == nil:
		case err != nil || w.base[p] == nil || string(b) != string(w.base[p]):
			return true
		}
	}
	return false
}

// snapshot is the editable files' current content, to tell whether they
// changed since a check.
func (w *editRoot) snapshot() string {
	var b strings.Builder
	for _, p := range w.editable {
		c, err := w.root.ReadFile(p)
		fmt.Fprintf(&b, "%s %d %v\n", p, len(c), err)
		b.Write(c)
	}
	return b.String()
}

// restore puts every editable file back as it was when the root opened.
func (w *editRoot) restore() error {
	for _, p := range w.editable {
		if w.base[p] == nil {
			if err := w.root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := w.write(p, w.base[p]); err != nil {
			return err
		}
	}
	return nil
}

// cleanPath checks a path given by the model and returns it cleaned, or a
// message saying why it is refused; example is a good path.
func cleanPath(p, example string) (string, string) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", "path is empty: give a path relative to the worktree root, e.g. " + example
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) || (len(p) > 1 && p[1] == ':'):
		return "", fmt.Sprintf("path %q is absolute: give a path relative to the worktree root, e.g. %s", p, example)
	case strings.Contains(p, `\`):
		return "", fmt.Sprintf("path %q uses backslashes: use forward slashes", p)
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return "", fmt.Sprintf("path %q contains \"..\": only files inside the worktree can be reached", p)
	}
	return path.Clean(p), ""
}

func (w *editRoot) readFile(p string) toolOutcome {
	p, msg := cleanPath(p, w.editable[0])
	if msg != "" {
		return toolErr("%s", msg)
	}
	info, err := w.root.Stat(p)
	if err != nil {
		return toolErr("%s", describeFSError(p, err))
	}
	if info.IsDir() {
		return w.listDir(p)
	}
	if !info.Mode().IsRegular() {
		return toolErr("%s is not a regular file", p)
	}
	b, err := w.root.ReadFile(p)
	if err != nil {
		return toolErr("%s", describeFSError(p, err))
	}
	if !utf8.Valid(b) {
		return toolErr("%s is a binary file (%d bytes): only text files can be read", p, len(b))
	}
	if len(b) > maxReadFileBytes {
		return toolOutcome{content: string(b[:maxReadFileBytes]) + fmt.Sprintf("\n[truncated: the file has %d bytes, the first %d are shown]", len(b), maxReadFileBytes)}
	}
	return toolOutcome{content: string(b)}
}

func (w *editRoot) listDir(p string) toolOutcome {
	entries, err := fs.ReadDir(w.root.FS(), p)
	if err != nil {
		return toolErr("%s", describeFSError(p, err))
	}
	var names []string
	for _, e := range entries {
		if p == "." && e.Name() == ".git" {
			continue
		}
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return toolOutcome{content: p + " is an empty directory"}
	}
	return toolOutcome{content: "directory " + p + ":\n" + strings.Join(names, "\n")}
}

// writable checks that p may be written: an editable path, reached through
// no symlink at all (a link inside the worktree could still point a write at
// the harness).
func (w *editRoot) writable(p string) (string, string) {
	p, msg := cleanPath(p, w.editable[0])
	if msg != "" {
		return "", msg
	}
	if !slices.Contains(w.editable, p) {
		return "", fmt.Sprintf("%s may not be changed: only %s may be edited (the harness and everything else are locked)", p, strings.Join(w.editable, ", "))
	}
	parts := strings.Split(p, "/")
	for i := range parts {
		sub := strings.Join(parts[:i+1], "/")
		info, err := w.root.Lstat(sub)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return "", describeFSError(p, err)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Sprintf("%s is reached through the symlink %s: editable files must be plain files", p, sub)
		}
	}
	return p, ""
}

func (w *editRoot) editFile(p, oldS, newS string) toolOutcome {
	p, msg := w.writable(p)
	if msg != "" {
		return toolErr("%s", msg)
	}
	if oldS == "" {
		return toolErr("old_string is empty: copy the exact text to replace from the file, or use write_file to replace the whole file")
	}
	if oldS == newS {
		return toolErr("old_string and new_string are the same: nothing would change")
	}
	b, err := w.root.ReadFile(p)
	if err != nil {
		return toolErr("%s", describeFSError(p, err))
	}
	s := string(b)
	switch n := strings.Count(s, oldS); n {
	case 0:
		return toolErr("old_string was not found in %s: read the file and copy the text exactly, whitespace included", p)
	case 1:
	default:
		return toolErr("old_string occurs %d times in %s: include more surrounding lines so that it occurs once", n, p)
	}
	line := strings.Count(s[:strings.Index(s, oldS)], "\n") + 1
	s = strings.Replace(s, oldS, newS, 1)
	if err := w.write(p, []byte(s)); err != nil {
		return toolErr("writing %s: %v", p, err)
	}
	return toolOutcome{content: fmt.Sprintf("ok: edited %s at line %d (%d lines replaced by %d)", p, line, strings.Count(oldS, "\n")+1, strings.Count(newS, "\n")+1)}
}

func (w *editRoot) writeFile(p, content string) toolOutcome {
	p, msg := w.writable(p)
	if msg != "" {
		return toolErr("%s", msg)
	}
	if strings.TrimSpace(content) == "" {
		return toolErr("content is empty: write_file replaces the whole file, so give the complete program")
	}
	if err := w.write(p, []byte(content)); err != nil {
		return toolErr("writing %s: %v", p, err)
	}
	return toolOutcome{content: fmt.Sprintf("ok: wrote %s (%d lines)", p, strings.Count(content, "\n")+1)}
}

// write replaces p atomically inside the root: a temporary file beside it,
// synced, then renamed over it, keeping the old file's permissions.
func (w *editRoot) write(p string, b []byte) error {
	mode := fs.FileMode(0o644)
	if info, err := w.root.Stat(p); err == nil {
		mode = info.Mode().Perm()
	}
	tmp := path.Join(path.Dir(p), "."+path.Base(p)+".llm-tmp")
	f, err := w.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(tmp, p)
	}
	if err != nil {
		w.root.Remove(tmp)
	}
	return err
}

func (w *editRoot) runCheck(ctx context.Context) toolOutcome {
	if w.check == nil {
		return toolOutcome{content: "this task has no build step, so there is nothing to check: submit, and a failing run comes back to you"}
	}
	out, ok := w.check(ctx)
	if ok {
		w.built = w.snapshot()
		return toolOutcome{content: "ok: the program builds"}
	}
	return toolOutcome{content: "build failed:\n" + tail(out, maxToolOutputBytes), isError: true}
}

func (w *editRoot) submit(ctx context.Context, description string) toolOutcome {
	d := results.CleanDescription(description)
	if strings.TrimSpace(description) == "" {
		return toolErr("description is empty: say in one line what the change does")
	}
	if r := []rune(d); len(r) > maxDescriptionRunes {
		d = string(r[:maxDescriptionRunes])
	}
	if !w.changed() {
		return toolErr("%s is unchanged: make the change with edit_file or write_file before submitting", strings.Join(w.editable, ", "))
	}
	if w.check != nil && (w.built == "" || w.built != w.snapshot()) {
		if out, ok := w.check(ctx); !ok {
			return toolErr("the program does not build, so it was not submitted; fix it and submit again:\n%s", tail(out, maxToolOutputBytes))
		}
	}
	return toolOutcome{content: "submitted: " + d, submit: d}
}

// exec runs one tool call. Bad JSON, unknown tools and missing arguments come
// back as tool errors the model can correct, never as Go errors.
func (w *editRoot) exec(ctx context.Context, name, arguments string) toolOutcome {
	var args map[string]json.RawMessage
	if strings.TrimSpace(arguments) == "" {
		arguments = "{}"
	}
	if err := json.Unmarshal([]byte(arguments), &args); err != nil {
		return toolErr("the arguments of %s are not a JSON object (%v): send them as JSON, e.g. {\"path\": %q}", name, err, w.editable[0])
	}
	get := func(key string) (string, string) {
		raw, ok := args[key]
		if !ok {
			return "", fmt.Sprintf("%s needs the argument %q", name, key)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Sprintf("the argument %q of %s must be a string", key, name)
		}
		return s, ""
	}
	strs := func(keys ...string) ([]string, string) {
		var vals []string
		for _, k := range keys {
			v, msg := get(k)
			if msg != "" {
				return nil, msg
			}
			vals = append(vals, v)
		}
		return vals, ""
	}
	switch name {
	case toolReadFile:
		v, msg := strs("path")
		if msg != "" {
			return toolErr("%s", msg)
		}
		return w.readFile(v[0])
	case toolEditFile:
		v, msg := strs("path", "old_string", "new_string")
		if msg != "" {
			return toolErr("%s", msg)
		}
		return w.editFile(v[0], v[1], v[2])
	case toolWriteFile:
		v, msg := strs("path", "content")
		if msg != "" {
			return toolErr("%s", msg)
		}
		return w.writeFile(v[0], v[1])
	case toolCheck:
		return w.runCheck(ctx)
	case toolSubmit:
		v, msg := strs("description")
		if msg != "" {
			return toolErr("%s", msg)
		}
		return w.submit(ctx, v[0])
	case toolGiveUp:
		v, msg := strs("reason")
		if msg != "" {
			return toolErr("%s", msg)
		}
		reason := results.CleanDescription(v[0])
		return toolOutcome{content: "gave up: " + reason, giveUp: reason}
	}
	return toolErr("unknown tool %q: the tools are %s", name, strings.Join(ToolNames(), ", "))
}

// describeFSError turns a file error into a message without absolute paths.
func describeFSError(p string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s does not exist: read_file on a directory (e.g. \".\") lists what exists", p)
	case strings.Contains(err.Error(), "escapes from parent") || strings.Contains(err.Error(), "path escapes"):
		return fmt.Sprintf("%s leads outside the worktree (through a symlink): only files inside it can be reached", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s: permission denied", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %v", p, pe.Err)
	}
	return fmt.Sprintf("%s: %v", p, err)
}

// tail returns the last n bytes of s, cut at a line start when it is cut.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "[... earlier output cut]\n" + s
}
