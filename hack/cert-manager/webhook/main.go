/*
Copyright 2026 The jobkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command webhook serves cert-manager's validating and mutating admission
// webhooks for the local cluster. Its serving certificate is signed by a CA
// that the webhook keeps in a Secret (--ca-secret); the cainjector copies that
// CA into the webhook configurations.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/internal/apis/config/shared"
	config "github.com/cert-manager/cert-manager/internal/apis/config/webhook"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

func main() {
	klog.InitFlags(nil)
	// controller-runtime, when linked in, defines --kubeconfig itself.
	if flag.Lookup("kubeconfig") == nil {
		flag.String("kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	}
	securePort := flag.Int("secure-port", 10250, "port of the TLS admission endpoint")
	healthzPort := flag.Int("healthz-port", 6080, "port of the /healthz and /livez endpoint")
	namespace := flag.String("ca-secret-namespace", "cert-manager", "namespace of the CA Secret")
	secret := flag.String("ca-secret", "cert-manager-webhook-ca", "name of the CA Secret")
	dnsNames := flag.String("dns-names", "cert-manager-webhook,cert-manager-webhook.cert-manager,cert-manager-webhook.cert-manager.svc",
		"comma-separated DNS names of the serving certificate")
	flag.Parse()
	kubeconfig := flag.Lookup("kubeconfig").Value.String()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logf.Log.WithName("webhook")
	ctx = logf.NewContext(ctx, log)

	srv, err := cmwebhook.NewCertManagerWebhookServer(log, config.WebhookConfiguration{
		KubeConfig:           kubeconfig,
		SecurePort:           int32(*securePort),
		HealthzPort:          int32(*healthzPort),
		MetricsListenAddress: "0",
		TLSConfig: shared.TLSConfig{Dynamic: shared.DynamicServingConfig{
			SecretNamespace: *namespace,
			SecretName:      *secret,
			DNSNames:        strings.Split(*dnsNames, ","),
			LeafDuration:    7 * 24 * time.Hour,
		}},
	})
	if err == nil {
		err = srv.Run(ctx)
	}
	if err != nil {
		log.Error(err, "webhook failed")
		klog.Flush()
		os.Exit(1)
	}
	klog.Flush()
}
