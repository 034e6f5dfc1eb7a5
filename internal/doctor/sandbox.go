package doctor

// checkSandbox says which protections a run of the training program gets
// here. Missing ones are a note: --sandbox auto runs with the others,
// --sandbox strict refuses.
func checkSandbox(env Env) []Check {
	if env.Sandbox == nil {
		return nil
	}
	s := env.Sandbox()
	if len(s.Missing()) > 0 {
		return []Check{{"sandbox", Note, s.String() + " (--sandbox auto runs without them, --sandbox strict refuses)"}}
	}
	return []Check{{"sandbox", OK, s.String()}}
}
