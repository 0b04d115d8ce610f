// 议事结果: what the residents' meeting decided about matters many neighbours raised (全透明).

import { describeError } from "../../api/errors";
import { listPublicDecisions } from "../../api/meetings";
import type { PublicDecision } from "../../api/types";
import { choose, knownCommunities, refreshCommunities } from "../../utils/communities";
import { formatTime } from "../../utils/format";
import { rememberedPlace } from "../../utils/place";

interface DecisionView {
  key: string;
  title: string;
  outcome: string;
  evidence: string;
}

function decisionView(decision: PublicDecision, index: number): DecisionView {
  const when = decision.meeting_at ? ` · ${formatTime(decision.meeting_at)} 议事` : "";
  return {
    key: `${decision.week}-${index}`,
    title: decision.title,
    outcome: decision.outcome,
    evidence: `${decision.residents} 位居民反映 ${decision.reports} 件${when}`,
  };
}

Component({
  data: {
    communities: [] as string[],
    communityIndex: -1,
    community: "",
    decisions: [] as DecisionView[],
    loaded: false,
    error: "",
  },

  methods: {
    onLoad(): void {
      // The community the resident last reported from, as the submit page remembers it; else the first.
      const remembered = rememberedPlace().community;
      const first = choose(knownCommunities(), remembered, 0);
      this.setData(first);
      this.load();
      void refreshCommunities().then((communities) => {
        const shown = this.data.community;
        // Unless the resident picked another meanwhile, the remembered one, which intake may list by now.
        const wanted = shown === first.community && remembered ? remembered : shown;
        this.setData(choose(communities, wanted, Math.max(communities.indexOf(shown), 0)));
        if (this.data.community !== shown) this.load();
      });
    },

    onCommunityChange(event: WechatMiniprogram.PickerChange): void {
      const index = Number(event.detail.value);
      this.setData({ communityIndex: index, community: this.data.communities[index] ?? "" });
      this.load();
    },

    async load(): Promise<void> {
      const community = this.data.community;
      try {
        const { decisions } = await listPublicDecisions(community);
        if (community === this.data.community) {
          this.setData({ decisions: decisions.map(decisionView), loaded: true, error: "" });
        }
      } catch (error) {
        this.setData({ decisions: [], loaded: true, error: describeError(error) });
      }
    },
  },
});
