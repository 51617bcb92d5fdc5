package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xenstore"
)

func pingCommand() *cli.Command {
	return &cli.Command{
		Name:  "ping",
		Usage: "connect to the agent of a running domain and print its version",
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "domain", Usage: "domain ID", Required: true},
			&cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "how long to wait for the agent"},
			&cli.StringFlag{Name: "xl", Value: "xl", Usage: "xl binary"},
		},
		Action: func(c *cli.Context) error {
			ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
			defer cancel()
			xs, err := xenstore.Dial(ctx)
			if err != nil {
				return err
			}
			defer xs.Close()
			id := xen.DomID(c.Uint("domain"))
			start := time.Now()
			client, err := agentclient.Connect(ctx, agentclient.Config{
				Domain:  id,
				Store:   xs,
				Devices: vchan.XenDevices(),
				Waiter:  xen.NewXL(xen.XLOptions{Path: c.String("xl"), Store: xs}),
			})
			if err != nil {
				return err
			}
			defer client.Close()
			v := client.Version()
			fmt.Fprintf(c.App.Writer, "domain %d: agent %s, API %d, kernel %s (connected in %s)\n",
				id, v.AgentVersion, v.ApiVersion, v.KernelRelease, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}
