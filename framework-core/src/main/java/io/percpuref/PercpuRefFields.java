package io.percpuref;

/**
 * The fields of {@link PercpuRef} that every get/put reads or writes, behind 72 bytes of padding.
 * Not API: two package-private superclasses only so that the JVM lays the hot fields out after the
 * padding (a class's fields come after its superclass's fields, and the padding leaves no gap that
 * a subclass field could fill).
 *
 * <p>Layout of a {@code PercpuRef} (compressed oops and class pointers, 8-byte alignment; checked by
 * {@code PercpuRefLayoutTest} with JOL): header and padding at offsets 0-71, these four fields at
 * 72-95, the cold fields (name, callbacks, lock, ...) after them, 144 bytes in all. A hot field is
 * at least 72 bytes after the start of its ref and 48 bytes before its end, so the hot fields of
 * two refs, wherever the allocator or the GC puts them, never share a 64-byte cache line, and the
 * {@code base} slots of two adjacent refs are 144 bytes apart, never in one 128-byte pair of lines
 * either (docs/benchmarks.md, "Layout").
 */
abstract class PercpuRefPadding {
    // Fills the 4 bytes after the 12-byte header, so that no subclass field lands there.
    int p0;
    long p1, p2, p3, p4, p5, p6, p7;
}

/** See {@link PercpuRefPadding}. Accessed through PercpuRef's VarHandles. */
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
}
