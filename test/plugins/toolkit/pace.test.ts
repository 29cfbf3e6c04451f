import { strict as assert } from "assert";
import { formatSeconds } from "../../../plugins/toolkit/pace";

describe("toolkit/pace formatSeconds", () => {
  it("rounds before splitting into minutes and seconds (never 60 seconds)", () => {
    assert.equal(formatSeconds(42.4), "42s");
    assert.equal(formatSeconds(59.7), "1m00s");
    assert.equal(formatSeconds(65), "1m05s");
    assert.equal(formatSeconds(119.7), "2m00s");
    assert.equal(formatSeconds(Infinity), "?");
  });
});
