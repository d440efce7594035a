/**
 * Auto-configuration of percpu-ref: the only entry points listed in {@code AutoConfiguration.imports}, and {@code PercpuRefProperties}.
 */
package io.percpuref.spring.autoconfigure;
