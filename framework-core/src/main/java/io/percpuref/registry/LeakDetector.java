package io.percpuref.registry;

import java.lang.ref.ReferenceQueue;

/**
 * The process-wide queue on which the JVM enqueues the {@link LeakRecord} of every tracked lease
 * that became unreachable without being closed, and the one daemon thread that drains it.
 *
 * <p>The class is initialized (and the thread started) when the first lease is tracked, never in a
 * process that disables leak detection. The thread only hands each record to its registry's own
 * hand-off threads ({@link LeakRecord#collected()}, {@link RefRegistry#handOff}), which never block
 * it and never run user code on it: a slow {@code onLeak} listener, a blocking release action or a
 * direct or rejecting callback executor of one registry cannot hold up leak detection for others. A closed lease's record is cleared before it can be
 * enqueued, so the thread sees leaks only.
 */
final class LeakDetector {

    private static final System.Logger LOGGER = System.getLogger(LeakDetector.class.getName());

    /** Where the JVM enqueues the records of leases that became phantom reachable. */
    static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();

    static {
        Thread drainer = new Thread(LeakDetector::drain, "percpu-ref-leak-detector");
        drainer.setDaemon(true);
        drainer.start();
    }

    private LeakDetector() {
    }

    private static void drain() {
        for (;;) {
            try {
                ((LeakRecord) QUEUE.remove()).collected();
            } catch (InterruptedException e) {
                // Nobody owns this daemon thread but this class; an interrupt is not a stop request.
            } catch (Throwable t) {
                LOGGER.log(System.Logger.Level.ERROR, "percpu-ref leak detector failed to process a leaked lease", t);
            }
        }
    }
}
