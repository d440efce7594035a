package io.percpuref.registry;

/** Test support for leak detection that does not depend on {@code System.gc()} being honoured. */
final class Leaks {

    private Leaks() {
    }

    /**
     * Does what the GC does when a tracked lease becomes unreachable: enqueues its record for the
     * leak detector. The caller must drop the lease (never use or close it again).
     *
     * @throws IllegalArgumentException if the lease is not tracked
     */
    static void simulateCollection(Lease<?> lease) {
        LeakRecord record = ((RefLease<?>) lease).leakRecord();
        if (record == null) {
            throw new IllegalArgumentException(lease + " is not tracked by leak detection");
        }
        record.enqueue();
    }
}
