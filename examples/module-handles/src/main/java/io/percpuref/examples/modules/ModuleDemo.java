package io.percpuref.examples.modules;

import io.percpuref.registry.RefRegistry;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The module-handles demo: load two modules from real jars, call them, reload one while four
 * threads keep calling it, unload it under the callers, and show that no call ever ran against a
 * closed class loader and that every old loader became unreachable.
 * {@code java -jar percpu-ref-example-modules.jar}; see {@code docs/examples/module-handles.md}.
 */
public final class ModuleDemo {

    /** Threads calling the greeter during the reload and the unload. */
    private static final int CALLERS = 4;
    /** How long each phase of the demo lets the callers run. */
    private static final Duration PHASE = Duration.ofMillis(500);
    /** Bound on waiting for an unload and for the old class loaders to be collected. */
    private static final long WAIT_SECONDS = 10;

    private ModuleDemo() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length > 0) {
            boolean help = args[0].equals("--help") || args[0].equals("-h");
            (help ? System.out : System.err).println("usage: java -jar percpu-ref-example-modules.jar"
                    + "  (no options: loads, calls, reloads and unloads the bundled modules)");
            System.exit(help ? 0 : 2);
        }
        System.exit(run(System.out, PHASE));
    }

    /**
     * Runs the demo, printing to {@code out}; each phase lets the callers run for {@code phase}.
     *
     * @return 0 if every call was answered or cleanly refused and none ran against a closed loader
     */
    static int run(PrintStream out, Duration phase) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("percpu-modules-");
        RefRegistry registry = RefRegistry.builder().build();
        List<WeakReference<ClassLoader>> loaders = new ArrayList<>();
        try (ModuleTable modules = new ModuleTable(registry)) {
            Map<String, Path> jars = ModuleJars.extractTo(dir);
            out.println("percpu-ref module-handles example");
            out.println("module jars built by this example's build, copied to " + dir + ":");
            for (Path jar : jars.values()) {
                ModuleDescriptor d = ModuleDescriptor.read(jar);
                out.printf("  %-16s Module-Name %s, Module-Version %s, Module-Class %s%n", jar.getFileName(), d.name(),
                        d.version(), d.className());
            }
            out.println();

            insmod(modules, jars.get("greeter-1.0"), loaders, out);
            insmod(modules, jars.get("rot13-1.0"), loaders, out);
            out.printf("call greeter(\"kernel\")   = %s%n", modules.call("greeter", "kernel"));
            out.printf("call rot13(\"percpu_ref\") = %s%n", modules.call("rot13", "percpu_ref"));
            out.println();

            Callers callers = new Callers(modules, "greeter");
            out.printf("%d callers call greeter in a loop (tryModuleGet, call, modulePut)%n", CALLERS);
            callers.start();
            callers.report(out, phase);

            out.println("reload greeter-2.0.jar while the callers keep calling");
            Unloaded old = modules.reload(jars.get("greeter-2.0")).toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
            remember(modules, "greeter", loaders);
            out.printf("  greeter 2.0 published; greeter 1.0 killed with %d call(s) in flight, drained in %s,%n"
                    + "  then its module_exit ran and its class loader was closed (%,d calls served)%n",
                    old.inFlightAtKill(), millis(old.drainTime()), old.calls());
            callers.report(out, phase);

            out.println("rmmod greeter while the callers keep calling");
            Unloaded gone = modules.unload("greeter").toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
            out.printf("  greeter 2.0 killed with %d call(s) in flight, drained in %s, unloaded (%,d calls served)%n",
                    gone.inFlightAtKill(), millis(gone.drainTime()), gone.calls());
            callers.report(out, phase.dividedBy(5));
            callers.stop();
            try {
                modules.call("greeter", "kernel");
            } catch (ModuleNotLoadedException e) {
                out.println("call greeter(\"kernel\")   -> " + e.getMessage());
            }
            out.println();

            out.printf("callers: %,d calls answered (%s), %,d refused after rmmod, %,d failed%n", callers.answered(),
                    callers.byVersion(), callers.refused.sum(), callers.failed.sum());
            out.printf("calls that ran against a closed class loader: %d%n", modules.violations());
            Unloaded rot13 = modules.unload("rot13").toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
            out.printf("rmmod rot13: drained in %s, unloaded%n", millis(rot13.drainTime()));

            int collected = awaitCollected(loaders);
            out.printf("old class loaders unreachable after release: %d of %d (System.gc() polled)%n", collected,
                    loaders.size());
            out.printf("registry: %d kills, %d releases, %d refused tryModuleGet on dying modules, %d leaked leases%n",
                    registry.killCount(), registry.releaseCount(), registry.rejectionCount(), registry.leakCount());
            boolean ok = modules.violations() == 0 && callers.failed.sum() == 0;
            out.println(ok ? "result: OK" : "result: FAILED");
            return ok ? 0 : 1;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            out.println("result: FAILED - an unload did not complete: " + e);
            return 1;
        } finally {
            registry.shutdown(Duration.ofSeconds(WAIT_SECONDS));
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void insmod(ModuleTable modules, Path jar, List<WeakReference<ClassLoader>> loaders,
                               PrintStream out) throws IOException {
        ModuleDescriptor d = modules.load(jar);
        ClassLoader loader = remember(modules, d.name(), loaders);
        out.printf("insmod %-16s -> %s, class loader '%s'%n", jar.getFileName(), d, loader.getName());
    }

    /** Keeps a weak reference to the published module's class loader, to check it is collected later. */
    private static ClassLoader remember(ModuleTable modules, String name, List<WeakReference<ClassLoader>> loaders) {
        try (ModuleRef ref = modules.tryModuleGet(name).orElseThrow()) {
            loaders.add(new WeakReference<>(ref.classLoader()));
            return ref.classLoader();
        }
    }

    /** Polls System.gc() until every loader is collected or the bound passes; returns how many were. */
    private static int awaitCollected(List<WeakReference<ClassLoader>> loaders) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (loaders.stream().anyMatch(w -> w.get() != null) && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(50);
        }
        return (int) loaders.stream().filter(w -> w.get() == null).count();
    }

    private static String millis(Duration d) {
        return String.format("%.2f ms", d.toNanos() / 1e6);
    }

    /** Threads calling one module in a loop, counting answers by version, refusals and failures. */
    private static final class Callers {
        private final ModuleTable modules;
        private final String name;
        private final List<Thread> threads = new ArrayList<>();
        private final ConcurrentHashMap<String, LongAdder> answeredBy = new ConcurrentHashMap<>();
        final LongAdder refused = new LongAdder();
        final LongAdder failed = new LongAdder();
        private volatile boolean running = true;

        Callers(ModuleTable modules, String name) {
            this.modules = modules;
            this.name = name;
        }

        void start() {
            for (int i = 0; i < CALLERS; i++) {
                String who = "caller-" + i;
                Thread t = new Thread(() -> loop(who), who);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
        }

        private void loop(String who) {
            while (running) {
                try (ModuleRef ref = modules.tryModuleGet(name).orElse(null)) {
                    if (ref == null) {
                        refused.increment();
                        Thread.onSpinWait();
                        continue;
                    }
                    ref.call(who);
                    answeredBy.computeIfAbsent(ref.module().version(), v -> new LongAdder()).increment();
                } catch (RuntimeException e) {
                    failed.increment();
                }
            }
        }

        /** Lets the callers run for {@code d} and prints what they did meanwhile. */
        void report(PrintStream out, Duration d) throws InterruptedException {
            Map<String, Long> before = snapshot();
            long refusedBefore = refused.sum();
            Thread.sleep(d.toMillis());
            Map<String, Long> after = snapshot();
            String answered = after.entrySet().stream()
                    .filter(e -> e.getValue() - before.getOrDefault(e.getKey(), 0L) > 0)
                    .map(e -> String.format("%,d by %s %s", e.getValue() - before.getOrDefault(e.getKey(), 0L), name,
                            e.getKey()))
                    .collect(Collectors.joining(", "));
            out.printf("  over %d ms: %s%s%n", d.toMillis(), answered.isEmpty() ? "no calls answered" : answered,
                    refused.sum() > refusedBefore ? String.format(", %,d refused (not loaded)", refused.sum() - refusedBefore)
                            : "");
        }

        void stop() throws InterruptedException {
            running = false;
            for (Thread t : threads) {
                t.join();
            }
        }

        long answered() {
            return answeredBy.values().stream().mapToLong(LongAdder::sum).sum();
        }

        String byVersion() {
            return snapshot().entrySet().stream().map(e -> String.format("%,d by %s %s", e.getValue(), name, e.getKey()))
                    .collect(Collectors.joining(", "));
        }

        private Map<String, Long> snapshot() {
            Map<String, Long> m = new TreeMap<>();
            answeredBy.forEach((v, n) -> m.put(v, n.sum()));
            return m;
        }
    }
}
