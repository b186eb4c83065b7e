package dev.fdbroker.broker.systemd;

import sun.misc.Signal;

/**
 * SIGHUP reloads, SIGTERM and SIGINT stop: the conventions systemd's ExecReload and KillSignal
 * follow. Handlers run the actions on a fresh thread, so a slow reload never blocks the JVM's
 * signal dispatcher.
 */
public final class SignalHandlers {
  private SignalHandlers() {}

  public static void install(Runnable reload, Runnable stop) {
    Signal.handle(new Signal("HUP"), s -> Thread.ofPlatform().name("fdbroker-reload").start(reload));
    Signal.handle(new Signal("TERM"), s -> Thread.ofPlatform().name("fdbroker-stop").start(stop));
    Signal.handle(new Signal("INT"), s -> Thread.ofPlatform().name("fdbroker-stop").start(stop));
  }
}
