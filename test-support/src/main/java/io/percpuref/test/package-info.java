/**
 * Test support for percpu-ref: {@link io.percpuref.test.PercpuRefExtension}, a JUnit Jupiter
 * extension that fails a test leaving leases open (naming resource, thread and acquisition site),
 * and {@link io.percpuref.test.PercpuRefAssertions}, which waits for releases and checks for open
 * leases with failure messages that say who holds what. See {@code docs/testing.md}.
 */
package io.percpuref.test;
