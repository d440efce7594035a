package io.percpuref;

/**
 * The fields of {@link PercpuRef} that every get/put reads or writes, with padding on both sides.
 * Not API: package-private superclasses only so that the JVM lays the hot fields out between the
 * paddings (a class's fields come after its superclass's fields, and each padding class leaves no
 * gap that a field of a subclass could fill).
 *
 * <p>Layout of a {@code PercpuRef} (compressed oops and class pointers, 8-byte alignment; checked by
 * {@code PercpuRefLayoutTest} with JOL): header and leading padding at offsets 0-63, the hot fields
 * at 64-91, trailing padding and the cold fields (name, callbacks, lock, ...) after them, 144 bytes
 * in all. The data of the object before a ref ends at least 64 bytes before its hot fields, and
 * the first field of the object after it (at its offset 12 or more) starts at least 64 bytes after
 * them, so the hot fields of a ref never share a 64-byte cache line with another object's fields,
 * whichever objects the allocator or the GC puts next to it; the {@code base} slots of two adjacent
 * refs are 144 bytes apart, never in one 128-byte pair of lines either (docs/benchmarks.md,
 * "Layout").
 */
abstract class PercpuRefPadding {
    // p0 fills the 4 bytes after the 12-byte header, so that no subclass field lands there.
    int p0;
    long p1, p2, p3, p4, p5, p6;
}

/** The hot fields; see {@link PercpuRefPadding}. Accessed through PercpuRef's VarHandles. */
abstract class PercpuRefFields extends PercpuRefPadding {
    /** The atomic part of the count; BIAS-ed in per-CPU mode. Changed only by atomic RMW. */
    volatile long count;
    /** The per-CPU slot used before inflation; SEALED in atomic mode. */
    volatile long base;
    /** DEAD | ATOMIC | FORCE_ATOMIC | RELEASED | SWITCHING, and the switch sequence; written only under the control lock. */
    volatile int state;
    /**
     * null (not inflated), SEALED_NO_STRIPES (sealed before inflation), or the stripe table;
     * replaced by a larger table only under the control lock, in per-CPU mode.
     */
    volatile long[] stripes;
    /**
     * Low 16 bits: home keys (top 4 bits of a thread's home hash) on which a thread of this ref lost
     * a CAS to another; threads with a crowded key select their stripe by their probe. High 16 bits:
     * collisions since the current table was published (saturating). Reset to 0 by a growth.
     */
    volatile int crowded;
}

/** Trailing padding: with PercpuRef's cold fields after it, 56 bytes behind the hot fields. */
abstract class PercpuRefTrailingPadding extends PercpuRefFields {
    long q0;
}
