package io.percpuref.registry;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Run in its own JVM by {@link LeaseStackOverflowTest}, interpreted ({@code -Xint}) so that every
 * call in {@link RefLease#close()}, the VarHandle calls included, is a real frame where a
 * {@link StackOverflowError} can strike. On a thread with a small stack it closes a fresh lease at
 * each recursion depth around the deepest one the stack allows, so the overflow lands, depth after
 * depth, at every call inside the owner's close. After each overflow it closes the same lease from
 * another thread (which must return) and kills the resource (which must release it, unless the
 * overflow struck in the put the owner had decided to make, which is then lost as in any code that
 * calls {@code put()}).
 *
 * <p>Prints one line: {@code overflows=N insideClose=N insidePut=N hung=N lost=N}, then the first
 * problem found, if any.
 */
public final class LeaseStackOverflowProbe {

    /** Depths scanned below the deepest one. */
    private static final int SCAN = 300;

    private static int deepest;
    private static int overflows;
    private static int insideClose;
    private static int insidePut;
    private static int hung;
    private static int lost;
    private static String firstProblem = "";

    private LeaseStackOverflowProbe() {
    }

    public static void main(String[] args) throws Exception {
        RefRegistry registry = RefRegistry.builder()
                .name("stack-overflow-probe")
                .leakDetection(LeakDetection.DISABLED)
                .callbackExecutor(Runnable::run)
                .build();
        Thread deep = new Thread(null, () -> scan(registry), "deep", 256 * 1024);
        deep.start();
        deep.join();
        System.out.println("overflows=" + overflows + " insideClose=" + insideClose + " insidePut=" + insidePut
                + " hung=" + hung + " lost=" + lost);
        System.out.println(firstProblem);
        System.out.flush();
        Runtime.getRuntime().halt(0); // a hung closer thread spins for ever
    }

    private static void scan(RefRegistry registry) {
        try {
            closeAt(0, Integer.MAX_VALUE, null);
        } catch (StackOverflowError expected) {
            // deepest is now the deepest level this stack reaches
        }
        int limit = deepest;
        for (int target = Math.max(0, limit - SCAN); target <= limit + 2; target++) {
            ManagedResource<Object> handle = registry.register("r" + target, new Object(), resource -> { });
            Lease<Object> lease = handle.acquire();
            StackOverflowError overflow = null;
            try {
                closeAt(0, target, lease);
            } catch (StackOverflowError e) {
                overflow = e;
            }
            if (overflow == null) {
                handle.kill();
                check(handle, target, false);
                continue;
            }
            overflows++;
            boolean inClose = strikes(overflow, "closeByOwner");
            // Once the owner has decided to put, an overflow in the put itself loses it, as in any code
            // that calls PercpuRef.put(): that is not the lease's to repair.
            boolean inPut = strikes(overflow, "io.percpuref.PercpuRef.") || strikes(overflow, "RefLease.putReference");
            insideClose += inClose ? 1 : 0;
            insidePut += inPut ? 1 : 0;
            String closer = "other-closer-" + target;
            CompletableFuture<Void> otherClose = CompletableFuture.runAsync(lease::close,
                    runnable -> {
                        Thread t = new Thread(runnable, closer);
                        t.setDaemon(true);
                        t.start();
                    });
            try {
                otherClose.get(5, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                hung++;
                problem("depth " + target + ": after a StackOverflowError in the owner's close, another thread's "
                        + "close() did not return within 5 s (the lease was left half-closed); overflow at "
                        + top(overflow));
                return;
            } catch (Exception e) {
                problem("depth " + target + ": another thread's close() threw " + e);
                return;
            }
            handle.kill();
            check(handle, target, inPut);
        }
    }

    /** Kill done: the resource must be released, unless the overflow struck inside the put itself. */
    private static void check(ManagedResource<Object> handle, int target, boolean putMayBeLost) {
        if (handle.state() != RefState.RELEASED && !putMayBeLost) {
            lost++;
            problem("depth " + target + ": the lease's reference was lost: " + handle.info());
        }
    }

    private static void closeAt(int level, int target, Lease<Object> lease) {
        deepest = level;
        if (level == target) {
            lease.close();
            return;
        }
        closeAt(level + 1, target, lease);
    }

    private static boolean strikes(StackOverflowError e, String frame) {
        for (StackTraceElement element : e.getStackTrace()) {
            String where = element.getClassName() + "." + element.getMethodName();
            if (where.contains(frame)) {
                return true;
            }
            if (where.endsWith(".closeAt")) {
                return false; // only frames above the recursion count
            }
        }
        return false;
    }

    private static String top(StackOverflowError e) {
        StackTraceElement[] trace = e.getStackTrace();
        StringBuilder b = new StringBuilder(trace.length == 0 ? " (no stack trace)" : "");
        for (int i = 0; i < Math.min(8, trace.length); i++) {
            b.append("\n  at ").append(trace[i]);
        }
        return b.toString();
    }

    private static void problem(String message) {
        if (firstProblem.isEmpty()) {
            firstProblem = message;
        }
    }
}
