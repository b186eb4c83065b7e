package dev.fdbroker.broker.systemd;

import sun.misc.Signal;

/**
 * SIGHUP reloads, SIGTERM and SIGINT stop: the conventions systemd's ExecReload and KillSignal
 * follow. The JVM runs each handler on a thread of its own, so a slow reload never blocks its
 * signal dispatcher; the action runs right there, with no second thread to start (at a task
 * limit, every thread counts: see BrokerServer.dispatch).
 */
public final class SignalHandlers {
  private SignalHandlers() {}

  public static void install(Runnable reload, Runnable stop) {
    Signal.handle(new Signal("HUP"), s -> reload.run());
    Signal.handle(new Signal("TERM"), s -> stop.run());
    Signal.handle(new Signal("INT"), s -> stop.run());
  }
}
