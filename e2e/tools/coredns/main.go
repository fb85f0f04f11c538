// CoreDNS with only the plugins the local cluster's DNS uses (the kubernetes plugin and what serves
// it), so the build leaves out the cloud providers' SDKs that the full plugin set pulls in. This is
// CoreDNS's documented way to choose plugins at compile time without patching its source.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// Plugin order as in CoreDNS's plugin.cfg: it is the order a query passes through them.
var directives = []string{"bind", "ready", "health", "errors", "log", "cache", "kubernetes"}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
