package io.percpuref;

/**
 * Test-only bridge to {@link PercpuRef}'s package-private hooks, for tests in other packages
 * (Lincheck, stress). Not part of the product: it lives in the test sources.
 */
public final class PercpuRefTestAccess {

    private PercpuRefTestAccess() {
    }

    /**
     * Publishes the ref's stripe array now, as the first contended CAS on its base slot would (a
     * no-op if it is already inflated, or sealed before inflation by a switch to atomic mode).
     */
    public static void inflate(PercpuRef ref) {
        ref.inflate();
    }

    /** Whether the ref has a stripe array. */
    public static boolean inflated(PercpuRef ref) {
        return ref.inflated();
    }

    /**
     * Doubles the ref's stripe table, as a thread finding every stripe owned by others would (a
     * no-op if it has not inflated, is at its stripe cap, or a switch holds its lock).
     */
    public static void grow(PercpuRef ref) {
        ref.growForTest();
    }

    /** Number of stripes of the ref's current table, 0 before inflation. */
    public static int tableStripes(PercpuRef ref) {
        return ref.tableStripes();
    }

    /** The offset of the calling thread's stripe in the ref's stripe array. */
    public static int stripeOffset(PercpuRef ref) {
        return ref.stripeOffset();
    }
}
