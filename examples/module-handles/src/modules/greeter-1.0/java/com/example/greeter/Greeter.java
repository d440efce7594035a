package com.example.greeter;

import io.percpuref.examples.modules.LoadableModule;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The greeter module, version 1.0. Every call reads its greeting from greeting.txt inside its own
 * jar, through its own class loader: a call made after that loader was closed fails, which is
 * what the module handles exist to prevent.
 */
public final class Greeter implements LoadableModule {

    @Override
    public String call(String who) {
        return greeting().formatted(who);
    }

    private static String greeting() {
        try (InputStream in = Greeter.class.getResourceAsStream("greeting.txt")) {
            if (in == null) {
                throw new IllegalStateException("greeter 1.0: greeting.txt not found; is my class loader closed?");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("greeter 1.0: cannot read greeting.txt", e);
        }
    }
}
