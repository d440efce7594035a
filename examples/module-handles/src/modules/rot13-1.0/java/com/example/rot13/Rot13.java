package com.example.rot13;

import io.percpuref.examples.modules.LoadableModule;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The rot13 module, version 1.0: rotates ASCII letters by 13 places. */
public final class Rot13 implements LoadableModule {

    /** Read from about.txt in the module's jar at init, so init fails if the jar is unreadable. */
    private String about;

    @Override
    public void init() {
        try (InputStream in = Rot13.class.getResourceAsStream("about.txt")) {
            if (in == null) {
                throw new IllegalStateException("rot13 1.0: about.txt not found in the module jar");
            }
            about = new String(in.readAllBytes(), StandardCharsets.UTF_8).strip();
        } catch (IOException e) {
            throw new UncheckedIOException("rot13 1.0: cannot read about.txt", e);
        }
    }

    @Override
    public String call(String text) {
        if (text.equals("--about")) {
            return about;
        }
        StringBuilder sb = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            if (c >= 'a' && c <= 'z') {
                sb.append((char) ('a' + (c - 'a' + 13) % 26));
            } else if (c >= 'A' && c <= 'Z') {
                sb.append((char) ('A' + (c - 'A' + 13) % 26));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
