// Package programs holds the research programs: the human's instructions to
// the agent, in Markdown. program.md is the default one. The binary carries it
// so that a run can start from a repository that has no programs/ folder; a
// program file given on the command line replaces it.
package programs

import _ "embed"

// Default is the text of program.md.
//
//go:embed program.md
var Default string
