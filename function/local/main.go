// Command local runs the ScanFleet function on this machine the way the Go
// buildpack's generated main does in Cloud Functions: the root package
// registers it, the Functions Framework serves it. It listens on
// 127.0.0.1 only. See "Run the function locally" in the README.
//
//	FUNCTION_TARGET=ScanFleet PORT=8080 go run ./function/local
package main

import (
	"log"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/fleetscan/fleetscan" // registers ScanFleet
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if os.Getenv("FUNCTION_TARGET") == "" {
		os.Setenv("FUNCTION_TARGET", "ScanFleet")
	}
	if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
		log.Fatalf("funcframework: %v", err)
	}
}
