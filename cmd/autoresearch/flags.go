package main

import (
	"github.com/spf13/cobra"

	"autoresearch/harness"
	"autoresearch/internal/sandbox"
)

// The flags several commands share are declared here, once, so that their
// names, defaults and help read the same everywhere.

// addProfileFlag declares --profile, the harness profile a command uses.
// Its default comes from $AUTORESEARCH_PROFILE; lookupProfile names which of
// the two an unknown name came from.
func addProfileFlag(cmd *cobra.Command, profile *string) {
	cmd.Flags().StringVar(profile, "profile", defaultProfile(),
		"harness profile: smoke, cpu or gpu (default $"+harness.EnvProfile+", else "+harness.DefaultProfile+")")
}

// addDeviceFlag declares --device, where the training program runs.
func addDeviceFlag(cmd *cobra.Command, device *string) {
	cmd.Flags().StringVar(device, "device", "auto", "auto, cpu or cuda (auto picks cuda when nvidia-smi lists a GPU)")
}

// addSandboxFlag declares --sandbox, how each run of the training program
// is confined.
func addSandboxFlag(cmd *cobra.Command, mode *string) {
	cmd.Flags().StringVar(mode, "sandbox", string(sandbox.Auto),
		"confine the training program: strict (refuse without every protection), auto (every protection the kernel offers) or off")
}
