package dev.fdbroker.client.tool;

import dev.fdbroker.client.BrokerInfo;
import dev.fdbroker.client.FdBrokerClient;
import dev.fdbroker.client.OpenBatch;
import dev.fdbroker.client.OpenResult;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code fdcat}: prints files fetched through fdbroker, like cat(1). Each file is opened by the
 * broker and read through the descriptor it passes back, so fdcat itself needs no access to them.
 *
 * <p>Exit status: 0 if every file was printed, 1 if any was refused, 2 on usage errors or when the
 * broker cannot be reached.
 */
public final class FdCat {
  private static final String USAGE = String.join("\n",
      "usage: fdcat [--socket PATH] FILE...",
      "       fdcat [--socket PATH] --ping",
      "Prints files opened by fdbroker. The socket defaults to $FDBROKER_SOCKET, else "
          + FdBrokerClient.DEFAULT_SOCKET + ".");

  private FdCat() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, OutputStream out, PrintStream err) {
    String env = System.getenv("FDBROKER_SOCKET");
    Path socket = env == null || env.isEmpty() ? FdBrokerClient.DEFAULT_SOCKET : Path.of(env);
    boolean ping = false;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--socket") && i + 1 < args.length) {
        socket = Path.of(args[++i]);
      } else if (a.startsWith("--socket=")) {
        socket = Path.of(a.substring("--socket=".length()));
      } else if (a.equals("--ping")) {
        ping = true;
      } else if (a.equals("-h") || a.equals("--help")) {
        err.println(USAGE);
        return 0;
      } else if (a.equals("--")) {
        files.addAll(List.of(args).subList(i + 1, args.length));
        break;
      } else if (a.startsWith("-")) {
        err.println("fdcat: unknown option " + a + "\n" + USAGE);
        return 2;
      } else {
        files.add(a);
      }
    }
    if (!ping && files.isEmpty()) {
      err.println(USAGE);
      return 2;
    }
    try (FdBrokerClient client = FdBrokerClient.builder(socket).build()) {
      if (ping) {
        BrokerInfo info = client.ping();
        err.println("fdbroker " + info.version() + " (protocol " + info.protocolVersion() + ") at " + socket);
        if (files.isEmpty()) {
          return 0;
        }
      }
      int status = 0;
      try (OpenBatch batch = client.openAll(files)) {
        for (OpenResult result : batch) {
          if (result instanceof OpenResult.Refused) {
            OpenResult.Refused refused = (OpenResult.Refused) result;
            out.flush();
            err.println("fdcat: " + refused.path() + ": " + refused.code() + ": " + refused.message());
            status = 1;
            continue;
          }
          try (InputStream in = result.file().inputStream()) {
            in.transferTo(out);
          }
        }
      }
      out.flush();
      return status;
    } catch (IOException e) {
      err.println("fdcat: " + e.getMessage());
      return 2;
    }
  }
}
