package io.percpuref.registry;

import io.percpuref.PercpuRef;

/**
 * Run in its own interpreted JVM ({@code -Xint}) by {@link ScopedLeaseStackOverflowTest}: every call,
 * VarHandle and MethodHandle chains included, is a real frame where a {@link StackOverflowError} can
 * strike. Two scans, each at every recursion depth around the deepest one a 256 KiB stack allows:
 * <ol>
 *   <li>{@code ref}: {@link PercpuRef#get()} and {@link PercpuRef#put()} on a bare ref. Counts what
 *   escapes that is not a {@code StackOverflowError} ({@code foreign}): since 3a37b75 the thread id
 *   comes from a MethodHandle whose {@code catch (Throwable)} turns an overflow into an
 *   {@code AssertionError}.</li>
 *   <li>{@code scoped}: {@link ManagedResource#withLease} with SIMPLE leak detection (the untracked
 *   path: no lease object, so nothing can ever reclaim a lost reference), then a kill. A reference
 *   lost while no frame of {@code PercpuRef} was on the overflow's stack (that is, outside the ref's
 *   own get/put, which the existing close probe accepts as lost) is counted in {@code lost}.</li>
 * </ol>
 * Prints {@code refOverflows=N foreign=N scopedOverflows=N lost=N} and the first problems.
 */
public final class ScopedLeaseStackOverflowProbe {

    private static final int SCAN = 300;

    private static int deepest;
    private static int refOverflows;
    private static int foreign;
    private static int scopedOverflows;
    private static int lost;
    private static final StringBuilder problems = new StringBuilder();
    private static final java.util.Set<String> sites = new java.util.LinkedHashSet<>();

    private ScopedLeaseStackOverflowProbe() {
    }

    public static void main(String[] args) throws Exception {
        RefRegistry registry = RefRegistry.builder()
                .name("scoped-stack-overflow-probe")
                .leakDetection(LeakDetection.SIMPLE)
                .callbackExecutor(Runnable::run)
                .build();
        Thread deep = new Thread(null, () -> {
            scanRef();
            scanScoped(registry);
        }, "deep", 256 * 1024);
        deep.setUncaughtExceptionHandler((t, e) -> problem("scan thread died: " + e + top(e)));
        deep.start();
        deep.join();
        System.out.println("refOverflows=" + refOverflows + " foreign=" + foreign
                + " scopedOverflows=" + scopedOverflows + " lost=" + lost);
        System.out.println(problems);
        System.out.println("overflow sites (first project frame):");
        sites.forEach(x -> System.out.println("  " + x));
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    // ---- scan 1: bare PercpuRef get/put -------------------------------------------------------

    private static void scanRef() {
        PercpuRef ref = PercpuRef.builder().name("bare").onRelease(r -> { }).build();
        try {
            refAt(0, Integer.MAX_VALUE, ref);
        } catch (StackOverflowError expected) {
            // deepest is the deepest level
        }
        int limit = deepest;
        for (int target = Math.max(0, limit - SCAN); target <= limit + 2; target++) {
            try {
                refAt(0, target, ref);
            } catch (StackOverflowError e) {
                refOverflows++;
                sites.add("ref: " + site(e));
            } catch (Throwable t) {
                foreign++;
                problem("depth " + target + ": PercpuRef.get()/put() threw " + t
                        + (t.getCause() != null ? " caused by " + t.getCause() : "") + top(t));
            }
        }
    }

    private static void refAt(int level, int target, PercpuRef ref) {
        deepest = level;
        if (level == target) {
            ref.get();
            ref.put();
            return;
        }
        refAt(level + 1, target, ref);
    }

    // ---- scan 2: withLease (SIMPLE: untracked path) -------------------------------------------

    private static void scanScoped(RefRegistry registry) {
        ManagedResource<Object> calibrate = registry.register("calibrate", new Object(), r -> { });
        try {
            scopedAt(0, Integer.MAX_VALUE, calibrate);
        } catch (StackOverflowError expected) {
            // deepest is the deepest level
        }
        int limit = deepest;
        for (int target = Math.max(0, limit - SCAN); target <= limit + 2; target++) {
            ManagedResource<Object> handle = registry.register("r" + target, new Object(), r -> { });
            Throwable overflow = null;
            try {
                scopedAt(0, target, handle);
            } catch (StackOverflowError | AssertionError e) {
                overflow = e;
            }
            if (overflow == null) {
                handle.kill();
                if (handle.state() != RefState.RELEASED) {
                    lost++;
                    problem("depth " + target + ": withLease returned normally but its reference was lost: "
                            + handle.info());
                }
                continue;
            }
            scopedOverflows++;
            sites.add(site(overflow));
            boolean inRef = strikes(overflow, "io.percpuref.PercpuRef.");
            handle.kill();
            if (handle.state() != RefState.RELEASED && !inRef) {
                lost++;
                problem("depth " + target + ": after a StackOverflowError outside PercpuRef's get/put, the scoped"
                        + " lease's reference was never given back (" + handle.info() + "); overflow at" + top(overflow));
            }
        }
    }

    private static void scopedAt(int level, int target, ManagedResource<Object> handle) {
        deepest = level;
        if (level == target) {
            handle.withLease(r -> r);
            return;
        }
        scopedAt(level + 1, target, handle);
    }

    private static boolean strikes(Throwable e, String frame) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (StackTraceElement element : t.getStackTrace()) {
                String where = element.getClassName() + "." + element.getMethodName();
                if (where.endsWith("At")) {
                    break; // only frames above the recursion count
                }
                if (where.contains(frame)) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String site(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (StackTraceElement el : e.getStackTrace()) {
            if (el.getMethodName().endsWith("At")) {
                break;
            }
            if (el.getClassName().startsWith("io.percpuref")) {
                b.append(el.getClassName().substring(el.getClassName().lastIndexOf('.') + 1)).append('.')
                        .append(el.getMethodName()).append(':').append(el.getLineNumber()).append(" < ");
            }
        }
        return b + " [" + e.getClass().getSimpleName() + "]";
    }

    private static String top(Throwable e) {
        StackTraceElement[] trace = e.getStackTrace();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < Math.min(10, trace.length); i++) {
            b.append("\n    at ").append(trace[i]);
        }
        return b.toString();
    }

    private static void problem(String message) {
        if (problems.length() < 6000) {
            problems.append(message).append('\n');
        }
    }
}
