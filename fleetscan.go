// Package fleetscan registers fleetscan's Cloud Function. The Go buildpack
// of Cloud Functions builds a main package that imports this root package
// and starts the Functions Framework, which calls the function registered
// here under the deployed entry point.
package fleetscan

import (
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/fleetscan/fleetscan/function"
)

// EntryPoint is the function's name, the entry point Terraform deploys.
const EntryPoint = "ScanFleet"

func init() {
	functions.CloudEvent(EntryPoint, function.New(os.Getenv, os.Stdout).ScanFleet)
}
