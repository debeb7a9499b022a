import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_COST_ESTIMATES } from '../../src/tasks/cost.js';

describe('COST_ESTIMATES', () => {
  it('defaults to the simulator’s prices, and an entry given replaces only its own', () => {
    expect(loadConfig({}).costEstimates).toEqual(DEFAULT_COST_ESTIMATES);
    expect(
      loadConfig({ COST_ESTIMATES: '{"KIE":{"AVATAR_VIDEO":12},"DIGITAL_HUMAN":{"AVATAR_VIDEO":0.5}}' }).costEstimates,
    ).toEqual({
      KLING: { AVATAR_VIDEO: 5, VIDEO_SOUND: 1 },
      KIE: { AVATAR_VIDEO: 12 },
      DIGITAL_HUMAN: { AVATAR_VIDEO: 0.5 },
    });
  });

  it('refuses at boot what is not a price table, naming the variable and the entry', () => {
    const problems = (value: string) => {
      try {
        loadConfig({ COST_ESTIMATES: value });
        return [];
      } catch (error) {
        return error instanceof ConfigError ? error.problems : [String(error)];
      }
    };
    expect(problems('{KLING: 5}')).toEqual(['COST_ESTIMATES: must be JSON such as {"KIE":{"AVATAR_VIDEO":12}}']);
    expect(problems('{"KLING":{"AVATAR_VIDEO":-1}}')[0]).toMatch(/^COST_ESTIMATES: KLING\.AVATAR_VIDEO: /);
    expect(problems('{"VEO":{"AVATAR_VIDEO":1}}')[0]).toMatch(/^COST_ESTIMATES: /);
    expect(problems('{"KLING":{"TEXT":1}}')[0]).toMatch(/^COST_ESTIMATES: /);
  });
});
