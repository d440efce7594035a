/**
 * Test support: {@link io.percpuref.spring.test.AutoConfigurePercpuRef} adds percpu-ref to test slices.
 */
package io.percpuref.spring.test;
