/**
 * The drain of the registry at shutdown.
 */
package io.percpuref.spring.lifecycle;
