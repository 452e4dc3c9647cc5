import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
    // jsdom is slow on a busy 2-core machine; these tests wait for nothing real
    testTimeout: 20_000,
  },
});
